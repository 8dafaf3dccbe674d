//! `api-key gate`: the verdict server gateways ask, over the command's store.

use std::{
    io::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use api_key_auth::{
    gate::{Gate, GateMode, Rules},
    last_use::LastUseTracker,
    rate_limit::{OwnerLimits, RateLimit},
    throttle::Throttle,
    Authenticator, CreditLeases, ErrorChain, KeyManager,
};
use clap::{Args, ValueEnum};

use crate::{shown, Failure, ProxyArgs};

pub(crate) const HELP: &str = "\
A gateway sends the client's Authorization header and asks; 200 lets the
request through with X-Api-Key-Id, -Name, -Prefix, -Owner and -Scopes to copy
upstream, anything else is the refusal to send back. Envoy's gRPC ext_authz
(envoy.service.auth.v3.Authorization/Check) is served on the same port. The
original method, path, host and scheme are read from X-Forwarded-Method/-Uri/
-Host/-Proto (Traefik, Caddy) or X-Original-Method/-URI/-URL (nginx,
ingress-nginx), from trusted proxies only. The README's \"In front of any
service\" has each gateway's whole configuration, as the tests run it.

Examples:
  # nginx auth_request, which passes on 401 and 403 only: 429 and 503 become
  # 403 with the real status in X-Api-Key-Status, for error_page to restore
  api-key --store sqlite:keys.db gate --for nginx --trusted-proxy 127.0.0.1 --rules gate.toml
      location = /_api_key { internal; proxy_pass http://127.0.0.1:9000;
          proxy_pass_request_body off; proxy_set_header Content-Length \"\";
          proxy_set_header X-Original-URI $request_uri;
          proxy_set_header X-Original-Method $request_method;
          proxy_set_header X-Forwarded-For $remote_addr; }
      location / { auth_request /_api_key; proxy_pass http://127.0.0.1:8080; }

  # ingress-nginx: as nginx, trusting the pod network
  api-key --store postgres://gate@db/keys gate --listen 0.0.0.0:9000 --for nginx --trusted-proxy 10.0.0.0/8
      nginx.ingress.kubernetes.io/auth-url: \"http://api-key-gate.auth:9000/check\"
      nginx.ingress.kubernetes.io/auth-response-headers: \"X-Api-Key-Id,X-Api-Key-Name\"

  # every owner's keys share 1000 requests a minute, acme's 5000
  api-key --store sqlite:keys.db gate --trusted-proxy 127.0.0.1 --owner-rate 1000/m --owner-rate-for acme=5000/m

  # keys' usage credits spent from blocks of 100 this gate takes at a time
  api-key --store postgres://gate@db/keys gate --trusted-proxy 127.0.0.1 --credit-lease 100

  # Traefik ForwardAuth (file provider)
  api-key --store sqlite:keys.db gate --trusted-proxy 127.0.0.1
      forwardAuth: { address: \"http://127.0.0.1:9000/check\",
                     authResponseHeaders: [X-Api-Key-Id, X-Api-Key-Name] }

  # Caddy forward_auth
  api-key --store sqlite:keys.db gate --trusted-proxy 127.0.0.1
      forward_auth 127.0.0.1:9000 { uri /check
                                    copy_headers X-Api-Key-Id X-Api-Key-Name }

  # Envoy ext_authz over HTTP (the client's path under path_prefix); over
  # gRPC the same gate needs no option
  api-key --store sqlite:keys.db gate --strip-prefix /ext_authz --trusted-proxy 127.0.0.1
      http_service: { server_uri: { uri: \"http://127.0.0.1:9000\", cluster: api_key_gate,
                      timeout: 1s }, path_prefix: /ext_authz,
                      authorization_request: { allowed_headers: { patterns: [{ exact: x-forwarded-for }] } } }
      (with use_remote_address: true on the listener, so the client's own address is sent)

gate.toml, re-read on SIGHUP and when it changes (a bad file is one line on
stderr, and the rules in force stay):
  default = \"closed\"           # or \"key\": any valid key passes
  [[route]]
  path = \"/health\"
  open = true
  [[route]]
  scheme = \"http\"              # as the gateway says (X-Forwarded-Proto)
  path = \"/*\"
  closed = true                # refused whatever the key
  [[route]]
  path = \"/orders/*\"           # /orders and everything under it
  methods = [\"GET\"]
  all_of = [\"orders:read\"]     # or any_of
  cost = 5                     # usage credits a request spends (1 unless said)";

/// `--for`: how refusals are told.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GatewayArg {
    /// Each refusal with its status (Traefik, Caddy, Envoy).
    Standard,
    /// 429 and 503 as 403, with X-Api-Key-Status (nginx auth_request).
    Nginx,
}

#[derive(Debug, Args)]
pub(crate) struct GateArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR")]
    listen: SocketAddr,
    /// The routes and their scopes (TOML); without it, every request needs a valid key.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    proxies: ProxyArgs,
    /// The gateway that asks.
    #[arg(
        long = "for",
        value_enum,
        default_value = "standard",
        value_name = "GATEWAY"
    )]
    gateway: GatewayArg,
    /// A prefix the gateway puts before the client's path (Envoy's HTTP
    /// ext_authz `path_prefix`).
    #[arg(long, value_name = "PATH", default_value = "")]
    strip_prefix: String,
    /// The start of the identity headers' names.
    #[arg(long, value_name = "PREFIX", default_value = "X-Api-Key-")]
    identity_headers: String,
    /// A rate limit every owner's keys share between them, one budget per
    /// owner in this gate process (1000/m, 50/s burst 20), on top of each
    /// key's own.
    #[arg(long, value_name = "REQUESTS/PERIOD")]
    owner_rate: Option<String>,
    /// One owner's shared limit, OWNER=REQUESTS/PERIOD (acme=5000/m); repeat
    /// for more. An owner named here has this limit instead of --owner-rate.
    #[arg(long = "owner-rate-for", value_name = "OWNER=LIMIT")]
    owner_rates: Vec<String>,
    /// Spend keys' usage credits from blocks of BLOCK credits this gate
    /// takes from the store at a time, rather than on the store request by
    /// request. A request waits only when its key's block runs out; what
    /// the gate holds when it stops is never spent.
    #[arg(long = "credit-lease", value_name = "BLOCK")]
    credit_lease: Option<u64>,
}

impl GateArgs {
    /// The limits owners' keys share, as the options say.
    fn owner_limits(&self) -> Result<OwnerLimits, Failure> {
        let limit = |flag: &str, text: &str| -> Result<RateLimit, Failure> {
            text.parse::<RateLimit>()
                .map_err(|e| format!("{flag} {text:?}: {e}").into())
        };
        let mut limits = match &self.owner_rate {
            Some(text) => OwnerLimits::every(limit("--owner-rate", text)?),
            None => OwnerLimits::none(),
        };
        let mut named = std::collections::HashSet::new();
        for entry in &self.owner_rates {
            let (owner, text) = entry
                .split_once('=')
                .ok_or_else(|| format!("--owner-rate-for {entry:?} is not OWNER=LIMIT"))?;
            let owner = owner.trim();
            if owner.is_empty() || !named.insert(owner) {
                return Err(format!(
                    "--owner-rate-for {entry:?}: each owner is named once, and not empty"
                )
                .into());
            }
            limits = limits.with(owner, limit("--owner-rate-for", text)?);
        }
        Ok(limits)
    }
}

/// Serves the gate until the process is stopped.
pub(crate) async fn run(store: Arc<dyn KeyManager>, args: GateArgs) -> Result<(), Failure> {
    let proxies = args.proxies.proxies()?;
    let owner_limits = args.owner_limits()?;
    // As a server guarded by the layer: failed attempts throttled per client,
    // last use recorded, keys' (and owners') rate limits enforced.
    let tracker = LastUseTracker::spawn(store.clone());
    let mut auth = Authenticator::builder(store)
        .throttle(Throttle::default())
        .last_use(tracker)
        .owner_rate_limits(owner_limits);
    if let Some(block) = args.credit_lease {
        let leases =
            CreditLeases::blocks_of(block).map_err(|e| format!("--credit-lease {block}: {e}"))?;
        auth = auth.credit_leases(leases);
    }
    let auth = auth.build()?;
    let rules = match &args.rules {
        Some(path) => read_rules(path, &auth)?,
        None => Rules::default(),
    };
    let routes = rules.len();
    let gate = Gate::builder(auth)
        .rules(rules)
        .trusted_proxies(proxies)
        .strip_prefix(args.strip_prefix)
        .identity_headers(args.identity_headers)
        .mode(match args.gateway {
            GatewayArg::Standard => GateMode::Standard,
            GatewayArg::Nginx => GateMode::Nginx,
        })
        .build()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    match &args.rules {
        Some(path) => println!(
            "gate listening on http://{addr} ({} from {})",
            routes_of(routes),
            shown(&path.display().to_string())
        ),
        None => println!("gate listening on http://{addr} (every request needs a valid key)"),
    }
    std::io::stdout().flush()?;
    if let Some(path) = args.rules {
        tokio::spawn(follow(path, gate.clone()));
    }
    // Envoy's gRPC ext_authz on the same port, beside every other path's
    // HTTP verdict.
    let router = axum::Router::new()
        .route_service(
            "/envoy.service.auth.v3.Authorization/Check",
            gate.ext_authz(),
        )
        .fallback_service(gate);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

fn read_rules(path: &Path, auth: &Authenticator) -> Result<Rules, String> {
    let shown_path = shown(&path.display().to_string()).into_owned();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--rules {shown_path}: {e}"))?;
    Rules::from_toml(&text, auth).map_err(|e| {
        format!(
            "--rules {shown_path}: {}",
            shown(&ErrorChain(&e).to_string())
        )
    })
}

/// Re-reads the rules on SIGHUP and when the file changes; a file that does
/// not read is said on stderr, once per change, and the rules in force stay.
async fn follow(path: PathBuf, gate: Gate) {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen: Option<SystemTime> = modified(&path);
    #[cfg(unix)]
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        #[cfg(unix)]
        let asked = async {
            match hangups.as_mut() {
                Some(hangups) => hangups.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let asked = std::future::pending::<Option<()>>();
        let forced = tokio::select! {
            _ = asked => true,
            _ = every.tick() => false,
        };
        let now = modified(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        match read_rules(&path, gate.authenticator()) {
            Ok(rules) => {
                eprintln!(
                    "api-key gate: {} from {} in force",
                    routes_of(rules.len()),
                    shown(&path.display().to_string())
                );
                gate.set_rules(rules);
            }
            Err(err) => eprintln!("api-key gate: {err}; the rules in force stay"),
        }
    }
}

/// "1 route", "2 routes".
fn routes_of(n: usize) -> String {
    if n == 1 {
        "1 route".to_owned()
    } else {
        format!("{n} routes")
    }
}
