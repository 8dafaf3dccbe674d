//! `api-key`: create, list, show, revoke and check API keys in any store the
//! crate has, from a shell (the `api-key-cli` package). Run `api-key --help`.
//!
//! Everything here goes through the public `KeyManager` API, so any store
//! the crate can open works alike; a failure is one line on stderr and exit
//! status 1, never a panic.

mod gate;

use std::{
    io::{IsTerminal as _, Write as _},
    process::ExitCode,
    sync::Arc,
    time::SystemTime,
};

use api_key_auth::{
    audit::{self, Actor},
    key_format::KeyFormat,
    rate_limit::RateLimit,
    store::{
        open::{open, open_with, redacted, Opened},
        rfc3339, AddressAllowlist, KeyFilter, PageRequest, Schema, MAX_BATCH, MAX_PAGE,
    },
    Authenticator, ErrorChain, KeyManager, KeyRecord, NewKey, StoreError,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::io::AsyncReadExt as _;

const EXAMPLES: &str = "\
Examples:
  api-key --store sqlite:keys.db migrate
  api-key --store sqlite:keys.db create --name billing --scope invoices:read --expires-in 90d
  APIKEY_STORE=postgres://app@db/app api-key list --status active
  echo \"$KEY\" | api-key --store sqlite:keys.db check
  api-key --store sqlite:keys.db rotate n58lzybi --grace 24h
  api-key --store sqlite:keys.db list --unused-for 90d
  api-key --store sqlite:keys.db revoke n58lzybi --yes

The first admin key: api-key --store URL create --name admin --scope keys:admin
Then the admin API: api-key --store URL serve --listen 127.0.0.1:8080";

/// Manage API keys: create them (shown once), list, show, revoke, and check
/// whether a store accepts a key.
#[derive(Debug, Parser)]
#[command(name = "api-key", version, after_help = EXAMPLES)]
struct Cli {
    /// The key store: memory, sqlite:PATH, postgres://…, mysql://…, redis://… or redis+cluster://host:port,…
    #[arg(long, env = "APIKEY_STORE", global = true, value_name = "URL")]
    store: Option<String>,

    /// The table layout: this crate's own, or a djangorestframework-api-key table.
    #[arg(
        long,
        env = "APIKEY_STORE_SCHEMA",
        global = true,
        value_enum,
        default_value_t = SchemaArg::Native
    )]
    schema: SchemaArg,

    /// With `--schema drf`: the time zone the Django table's dates are in, when
    /// Django runs with `USE_TZ = False` (its `TIME_ZONE`, an IANA name such as
    /// Europe/Berlin).
    ///
    /// UTC by default, as Django writes them with `USE_TZ = True`. PostgreSQL's
    /// columns carry their zone: no need there.
    #[arg(long, env = "APIKEY_DRF_TIME_ZONE", global = true, value_name = "ZONE")]
    drf_time_zone: Option<String>,

    /// Hand out keys behind this brand, with a checksum, so secret scanners
    /// find leaked ones (`myco_…`); `check` reads both forms.
    #[arg(long, env = "APIKEY_BRAND", global = true, value_name = "BRAND")]
    brand: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SchemaArg {
    Native,
    Drf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the key tables; running it again changes nothing.
    /// On SQLite, PostgreSQL and MySQL it also installs triggers that report
    /// every change to a key's row (Django's admin included) to the running
    /// servers' caches; on a Django table, they are all it adds.
    #[command(
        after_help = "Examples:\n  api-key --store postgres://app@db/app migrate\n  api-key --store sqlite:/srv/django/db.sqlite3 --schema drf migrate\n  api-key --store mysql://app@db/django --schema drf migrate --remove-triggers"
    )]
    Migrate {
        /// Remove the change triggers instead of installing them.
        #[arg(long)]
        remove_triggers: bool,
    },
    /// Create a key and print it, the one time it is shown.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db create --name billing --scope invoices:read --expires-in 90d --meta ticket=OPS-12\n  api-key --store sqlite:keys.db create --name partner --rate 100/s --burst 20\n  api-key --store sqlite:keys.db create --name office --allow-from 10.0.0.0/8,2001:db8::/32\n  api-key --store sqlite:keys.db create --name trial --credits 1000 --refill 1000/1d\n  api-key --store sqlite:keys.db create --name device --count 10000 --json > keys.jsonl   # one key a line, made 1000 at a time\n  api-key --store sqlite:keys.db --brand myco create --name ci     # myco_…, found by secret scanners"
    )]
    Create(CreateArgs),
    /// List keys, page by page, with when each expires and was last used.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db list --status active --json\n  api-key --store sqlite:keys.db list --owner acme             # one owner's keys\n  api-key --store sqlite:keys.db list --unused-for 90d          # active keys nobody used for 90 days\n  api-key --store sqlite:keys.db list --expiring-within 7d      # active keys that stop within a week"
    )]
    List(ListArgs),
    /// Show one key's record (never its secret).
    #[command(after_help = "Example:\n  api-key --store sqlite:keys.db show n58lzybi")]
    Show {
        /// The key's id or prefix.
        id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it stops working at once.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db revoke n58lzybi --yes\n  api-key --store sqlite:keys.db revoke --owner acme --yes   # every key of one owner"
    )]
    Revoke {
        /// The key's id or prefix.
        #[arg(required_unless_present = "owner", conflicts_with = "owner")]
        id: Option<String>,
        /// Revoke every key of this owner (exactly this text) instead.
        #[arg(long)]
        owner: Option<String>,
        /// Do not ask for confirmation (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Suspend a key: it is refused, as a revoked key is, until resumed.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db suspend n58lzybi\n  api-key --store sqlite:keys.db suspend --owner acme      # every key of one owner\n  api-key --store sqlite:keys.db list --status suspended"
    )]
    Suspend {
        /// The key's id or prefix.
        #[arg(required_unless_present = "owner", conflicts_with = "owner")]
        id: Option<String>,
        /// Suspend every key of this owner (exactly this text) instead.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Resume a suspended key: it works again, unless revoked or expired.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db resume n58lzybi\n  api-key --store sqlite:keys.db resume --owner acme"
    )]
    Resume {
        /// The key's id or prefix.
        #[arg(required_unless_present = "owner", conflicts_with = "owner")]
        id: Option<String>,
        /// Resume every suspended key of this owner instead (those
        /// suspended one by one too).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Replace a key by a new one with the same name, scopes, owner and
    /// metadata, printed once; the old key keeps working for the grace
    /// period (its responses carry `Sunset`), then stops.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db rotate n58lzybi --grace 24h\n  api-key --store sqlite:keys.db rotate n58lzybi --grace 0 --json   # the old key stops at once"
    )]
    Rotate {
        /// The key's id or prefix.
        id: String,
        /// How long the old key keeps working: 24h, 7d, 30m, or 0 to revoke it at once.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        grace: String,
        /// Print the new key, its record and the old key's as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the admin API over the store: create, list, show, rotate and
    /// revoke keys over HTTP, for admin keys only.
    #[command(
        after_help = "Examples:\n  api-key --store sqlite:keys.db serve --listen 127.0.0.1:8080\n  curl -H \"Authorization: Api-Key $ADMIN_KEY\" http://127.0.0.1:8080/keys\n  # behind a TLS terminator on 10.0.0.2 that writes X-Forwarded-For:\n  api-key --store sqlite:keys.db serve --trusted-proxy 10.0.0.2"
    )]
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The scope an admin key needs.
        #[arg(long, default_value = api_key_auth::admin::DEFAULT_ADMIN_SCOPE)]
        admin_scope: String,
        #[command(flatten)]
        proxies: ProxyArgs,
    },
    /// Answer gateways' forward-auth requests (nginx auth_request and
    /// ingress-nginx, Traefik ForwardAuth, Caddy forward_auth, Envoy
    /// ext_authz over HTTP and gRPC): 200 with the key's identity, or the
    /// refusal.
    #[command(after_help = gate::HELP)]
    Gate(gate::GateArgs),
    /// Read a key from standard input and say whether the store accepts it,
    /// and if not why; exit status 0 when accepted, 1 when not.
    #[command(
        after_help = "Examples:\n  echo \"$KEY\" | api-key --store sqlite:keys.db check\n  echo \"$KEY\" | api-key --store sqlite:keys.db check --from 10.1.2.3   # a key with --allow-from"
    )]
    Check {
        /// Check as if the key came from this client address: a key that
        /// may be used only from listed networks needs one.
        #[arg(long, value_name = "ADDRESS")]
        from: Option<std::net::IpAddr>,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// A name for the key ("billing-service", "ci").
    #[arg(long)]
    name: String,
    /// A scope to grant; repeat for more.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Make the key stop working after this long: 90d, 12h, 30m.
    #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
    expires_in: Option<String>,
    /// Make the key stop working at this time (RFC 3339: 2027-01-31T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Who the key belongs to.
    #[arg(long)]
    owner: Option<String>,
    /// A metadata entry, KEY=VALUE; repeat for more.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Limit how fast the key may be used: 100/s, 5000/h, 10/30s.
    #[arg(long, value_name = "REQUESTS/PERIOD")]
    rate: Option<String>,
    /// Requests the key may make at once under --rate (a period's worth by default).
    #[arg(long, value_name = "N", requires = "rate")]
    burst: Option<u32>,
    /// Let the key be used only from these networks or addresses
    /// (10.0.0.0/8, 2001:db8::/32, 192.0.2.7); comma-separated, or repeat.
    #[arg(long = "allow-from", value_name = "NETWORKS")]
    allow_from: Vec<String>,
    /// Let the key be used this many times (one credit per admitted request).
    #[arg(long, value_name = "N")]
    credits: Option<u64>,
    /// Set the credits back to an amount every interval: 1000/1d, 50/12h.
    #[arg(long, value_name = "AMOUNT/INTERVAL", requires = "credits")]
    refill: Option<String>,
    /// Create this many keys alike, in batches of 1000 (one transaction or
    /// script each), printing each batch as it is made: a key a line, tab
    /// after its id, or with --json one JSON object a line.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    count: u64,
    /// Print the key and its record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Which keys to list: all of them, unless --unused-for or
    /// --expiring-within is given, when only active ones.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// Only keys not used for this long (never used: created that long ago): 90d, 12h.
    #[arg(long, value_name = "DURATION")]
    unused_for: Option<String>,
    /// Only keys that stop working within this long: 7d, 24h.
    #[arg(long, value_name = "DURATION")]
    expiring_within: Option<String>,
    /// Only the keys of this owner (exactly this text, case and all).
    #[arg(long)]
    owner: Option<String>,
    /// Print one JSON object per key per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    Active,
    Revoked,
    Expired,
    Suspended,
    All,
}

/// A failure to report in one line.
type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return report(&err),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => report(&*err),
    }
}

fn report(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    // An error may quote what a store or the user gave.
    eprintln!("api-key: {}", shown(&ErrorChain(err).to_string()));
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let url = cli
        .store
        .ok_or("no key store: give --store URL or set APIKEY_STORE")?;
    let drf = cli.schema == SchemaArg::Drf;
    let format = match &cli.brand {
        Some(brand) => KeyFormat::branded(brand).map_err(|e| format!("--brand: {e}"))?,
        None => KeyFormat::Drf,
    };
    let opened = match &cli.drf_time_zone {
        Some(zone) if drf => {
            let schema = Schema::drf()
                .with_naive_time_zone(zone)
                .map_err(|e| format!("--drf-time-zone: {}", ErrorChain(&e)))?;
            open_with(&url, schema).await
        }
        Some(_) => return Err("--drf-time-zone is for a Django table: add --schema drf".into()),
        None => open(&url, drf).await,
    }
    .map_err(|e| format!("cannot open {}: {}", redacted(&url), ErrorChain(&e)))?;
    if let Command::Migrate { remove_triggers } = cli.command {
        migrate(opened, &url, remove_triggers).await?;
        return Ok(ExitCode::SUCCESS);
    }
    // The gate serves many requests: cached, hearing of revocations.
    if let Command::Gate(args) = cli.command {
        gate::run(opened.into_cached_manager(), args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = opened.into_manager();
    match cli.command {
        Command::Migrate { .. } => {}
        Command::Create(args) => create(&*store, args, &format).await?,
        Command::List(args) => list(&*store, args).await?,
        Command::Show { id, json } => {
            let record = find(&*store, &id).await?;
            if json {
                println!("{}", json_line(&record_json(&record)));
            } else {
                show(&record);
            }
        }
        Command::Revoke { id, owner, yes } => match (id, owner) {
            (_, Some(owner)) => revoke_owned(&*store, &owner, yes).await?,
            (Some(id), None) => revoke(&*store, &id, yes).await?,
            (None, None) => unreachable!("clap asks for an id or --owner"),
        },
        Command::Suspend { id, owner } => one_or_owned(&*store, id, owner, true).await?,
        Command::Resume { id, owner } => one_or_owned(&*store, id, owner, false).await?,
        Command::Rotate { id, grace, json } => rotate(&*store, &id, &grace, json, &format).await?,
        Command::Check { from } => return check(store, format, from).await,
        Command::Gate(_) => {}
        Command::Serve {
            listen,
            admin_scope,
            proxies,
        } => serve(store, listen, admin_scope, format, proxies.proxies()?).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Opening a store of this crate's own tables created or upgraded them; on
/// a SQL store, the change triggers go in (or out): PostgreSQL's announce
/// each change, SQLite's and MySQL's write it to the change log.
async fn migrate(opened: Opened, url: &str, remove: bool) -> Result<(), Failure> {
    let shown = redacted(url);
    let done = match (opened, remove) {
        #[cfg(feature = "postgres")]
        (Opened::Postgres(store), false) => store.install_change_triggers().await,
        #[cfg(feature = "postgres")]
        (Opened::Postgres(store), true) => store.remove_change_triggers().await,
        (Opened::Sqlite(store), false) => store.install_change_triggers().await,
        (Opened::Sqlite(store), true) => store.remove_change_triggers().await,
        #[cfg(feature = "mysql")]
        (Opened::MySql(store), false) => store.install_change_triggers().await,
        #[cfg(feature = "mysql")]
        (Opened::MySql(store), true) => store.remove_change_triggers().await,
        (_, true) => {
            return Err("change triggers exist on SQLite, PostgreSQL and MySQL only".into())
        }
        (_, false) => {
            println!("{shown} is up to date");
            return Ok(());
        }
    };
    done?;
    if remove {
        println!(
            "removed the change triggers from {shown}: changes made past this crate now reach \
             caches only when their entries expire (the cache TTL)"
        );
    } else {
        println!("{shown} is up to date; its key table reports every change to a key's row to the running servers' caches");
    }
    Ok(())
}

async fn create(
    store: &dyn KeyManager,
    args: CreateArgs,
    format: &KeyFormat,
) -> Result<(), Failure> {
    let mut new = NewKey::named(args.name).scopes(args.scopes);
    if let Some(text) = &args.expires_in {
        let ttl = humantime::parse_duration(text)
            .map_err(|e| format!("--expires-in {text:?}: {e} (try 90d, 12h or 30m)"))?;
        new = new.expires_in(ttl);
    }
    if let Some(text) = &args.expires_at {
        let at = humantime::parse_rfc3339_weak(text)
            .map_err(|e| format!("--expires-at {text:?}: {e} (try 2027-01-31T00:00:00Z)"))?;
        if at <= SystemTime::now() {
            return Err(format!("--expires-at {text:?} is in the past").into());
        }
        new = new.expires_at(at);
    }
    if let Some(owner) = args.owner {
        new = new.owner(owner);
    }
    for entry in &args.metadata {
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| format!("--meta {entry:?} is not KEY=VALUE"))?;
        new = new.metadata(key, value);
    }
    if let Some(text) = &args.rate {
        let mut limit: RateLimit = text.parse().map_err(|e| format!("--rate {text:?}: {e}"))?;
        if let Some(burst) = args.burst {
            limit = limit
                .with_burst(burst)
                .map_err(|e| format!("--burst {burst}: {e}"))?;
        }
        new = new.rate_limit(limit);
    }
    if let Some(credits) = args.credits {
        let refill = args
            .refill
            .as_deref()
            .map(|text| {
                text.parse::<api_key_auth::store::Refill>()
                    .map_err(|e| format!("--refill {text:?}: {e}"))
            })
            .transpose()?;
        new = new.credits(credits, refill);
    }
    if !args.allow_from.is_empty() {
        let entries = args.allow_from.iter().flat_map(|list| list.split(','));
        let allowed = AddressAllowlist::new(entries).map_err(|e| format!("--allow-from: {e}"))?;
        new = new.allow_from(allowed);
    }
    // The rules every front end shares, told by this command's flag names.
    new.validate().map_err(|invalid| {
        let flag = match invalid.field {
            "name" => "--name",
            "scopes" => "--scope",
            "owner" => "--owner",
            "metadata" => "--meta",
            "credits" => "--credits",
            other => other,
        };
        format!("{flag}: {}", invalid.reason)
    })?;
    if args.count > 1 {
        return create_batches(store, new, args.count, args.json, format).await;
    }
    let (record, key) = store.create(new).await?.reveal();
    audit::created(&record, actor());
    let key = format.render(&key);
    if args.json {
        let mut out = record_json(&record);
        out["key"] = serde_json::Value::from(key.as_str());
        println!("{}", json_line(&out));
    } else {
        println!(
            "created key \"{}\" (id {}, prefix {}):",
            shown(&record.name),
            shown(&record.id),
            record.prefix
        );
        println!();
        println!("    {}", key.as_str());
        println!();
        println!("This key is shown once and never again: copy it now.");
    }
    Ok(())
}

/// `create --count N`: keys like `new`, a batch at a time, each batch
/// printed once made, so a failure loses none already made.
async fn create_batches(
    store: &dyn KeyManager,
    new: NewKey,
    count: u64,
    json: bool,
    format: &KeyFormat,
) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut made = 0u64;
    while made < count {
        let size = (count - made).min(MAX_BATCH as u64) as usize;
        let batch = store
            .create_many(vec![new.clone(); size])
            .await
            .map_err(|e| {
                format!(
                    "{made} of {count} keys were made and printed before this batch failed: {}",
                    ErrorChain(&e)
                )
            })?;
        let ids: Vec<String> = batch.iter().map(|c| c.record().id.clone()).collect();
        let printed = (|| -> std::io::Result<()> {
            for created in batch {
                let (record, key) = created.reveal();
                audit::created(&record, actor());
                let key = format.render(&key);
                if json {
                    let mut line = record_json(&record);
                    line["key"] = serde_json::Value::from(key.as_str());
                    writeln!(out, "{}", json_line(&line))?;
                } else {
                    writeln!(out, "{}\t{}", shown(&record.id), key.as_str())?;
                }
            }
            out.flush()
        })();
        if let Err(error) = printed {
            // Keys nobody can have read: revoke them, so none works unseen.
            let mut revoked = 0;
            for id in &ids {
                if store.revoke(id).await.unwrap_or(false) {
                    revoked += 1;
                }
            }
            return Err(format!(
                "{made} of {count} keys were made and printed; the output failed on the next batch ({error}), whose {revoked} of {} keys were revoked",
                ids.len()
            )
            .into());
        }
        made += size as u64;
    }
    if !json {
        eprintln!("created {count} keys; they are shown once and never again: keep the output");
    }
    Ok(())
}

async fn list(store: &dyn KeyManager, args: ListArgs) -> Result<(), Failure> {
    let narrowed = args.unused_for.is_some() || args.expiring_within.is_some();
    let asked = args.status.unwrap_or(if narrowed {
        StatusArg::Active
    } else {
        StatusArg::All
    });
    let filter = match asked {
        StatusArg::Active => KeyFilter::Active,
        StatusArg::Revoked => KeyFilter::Revoked,
        StatusArg::Expired => KeyFilter::Expired,
        StatusArg::Suspended => KeyFilter::Suspended,
        StatusArg::All => KeyFilter::All,
    };
    let now = SystemTime::now();
    let mut request = PageRequest::first(MAX_PAGE).filter(filter);
    if let Some(text) = &args.unused_for {
        let idle = duration("--unused-for", text)?;
        request = request.unused_since(now.checked_sub(idle).unwrap_or(SystemTime::UNIX_EPOCH));
    }
    if let Some(text) = &args.expiring_within {
        let within = duration("--expiring-within", text)?;
        request = request.expiring_before(
            now.checked_add(within)
                .unwrap_or_else(api_key_auth::store::latest_expiry),
        );
    }
    if let Some(owner) = args.owner {
        request = request.owner(owner);
    }
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "{}",
            row([
                "ID",
                "NAME",
                "PREFIX",
                "CREATED",
                "EXPIRES",
                "LEFT",
                "LAST USED",
                "STATUS",
                "SCOPES"
            ])
        )?;
    }
    loop {
        // One page in memory at a time, however many keys there are.
        let page = store.list_page(&request).await?;
        for record in &page.keys {
            if args.json {
                writeln!(out, "{}", json_line(&record_json(record)))?;
            } else {
                writeln!(
                    out,
                    "{}",
                    row([
                        &shown(&record.id),
                        &shown(&record.name),
                        record.prefix.as_str(),
                        &time(Some(record.created)),
                        &time(record.expires),
                        &left(record.expires, now),
                        &record
                            .last_used
                            .map_or_else(|| "never".to_owned(), |at| ago(at, now)),
                        record.status_at(now).as_str(),
                        &shown(&record.scopes.join(" ")),
                    ])
                )?;
            }
        }
        match page.next {
            Some(next) => request = request.after(next),
            None => return Ok(()),
        }
    }
}

/// A table row: fixed-width columns but the last.
fn row(cells: [&str; 9]) -> String {
    let widths = [10, 24, 9, 20, 20, 12, 12, 8];
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        line.push_str(&format!("{cell:<width$} "));
    }
    line.push_str(cells[8]);
    line.trim_end().to_owned()
}

fn show(record: &KeyRecord) {
    let now = SystemTime::now();
    println!("id        {}", shown(&record.id));
    println!("name      {}", shown(&record.name));
    println!("prefix    {}", record.prefix);
    println!("status    {}", record.status_at(now).as_str());
    println!("created   {}", time(Some(record.created)));
    match record.expires {
        Some(at) => println!("expires   {} ({})", rfc3339(at), left(Some(at), now)),
        None => println!("expires   never"),
    }
    match record.last_used {
        Some(at) => println!("last used {} ({})", rfc3339(at), ago(at, now)),
        None => println!("last used never"),
    }
    if let Some(old) = &record.replaces {
        println!("replaces  {}", shown(old));
    }
    if let Some(new) = &record.replaced_by {
        match record.sunset() {
            Some(at) if at > now => println!(
                "replaced  by {}; in its grace period until {}",
                shown(new),
                rfc3339(at)
            ),
            _ => println!("replaced  by {}", shown(new)),
        }
    }
    println!("scopes    {}", shown(&record.scopes.join(" ")));
    match record.rate_limit {
        Some(limit) => println!("rate      {limit}"),
        None => println!("rate      unlimited"),
    }
    match &record.allowed_from {
        Some(allowed) => println!("from      {allowed}"),
        None => println!("from      anywhere"),
    }
    match &record.credits {
        Some(credits) => match (credits.refill(), credits.next_refill(now)) {
            (Some(refill), Some(at)) => println!(
                "credits   {} left; refill {refill}, next at {}",
                credits.left_at(now),
                rfc3339(at)
            ),
            _ => println!("credits   {} left, no refill", credits.left_at(now)),
        },
        None => println!("credits   unlimited"),
    }
    println!(
        "owner     {}",
        shown(record.owner.as_deref().unwrap_or("-"))
    );
    for (key, value) in &record.metadata {
        println!("meta      {}={}", shown(key), shown(value));
    }
    println!("hash      {}", record.hash.algorithm());
}

async fn revoke(store: &dyn KeyManager, id: &str, yes: bool) -> Result<(), Failure> {
    let record = find(store, id).await?;
    if record.revoked {
        println!(
            "key {:?} ({}) was already revoked",
            record.name,
            shown(&record.id)
        );
        return Ok(());
    }
    let question = format!(
        "revoke key {:?} (id {}, prefix {})? It stops working at once.",
        record.name,
        shown(&record.id),
        record.prefix
    );
    if !yes && !confirmed(&question)? {
        println!("not revoked");
        return Ok(());
    }
    if !store.revoke(&record.id).await? {
        return Err(format!("no key has the id {:?} any more", record.id).into());
    }
    audit::revoked(&record, actor());
    println!("revoked key {:?} (id {})", record.name, shown(&record.id));
    Ok(())
}

/// Whether the person at the terminal says yes to `question`; an error
/// when no one is there to ask (scripts pass `--yes`).
fn confirmed(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err("revoking asks for confirmation on a terminal; pass --yes in scripts".into());
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Revokes every key of `owner`, after asking on a terminal unless `yes`.
async fn revoke_owned(store: &dyn KeyManager, owner: &str, yes: bool) -> Result<(), Failure> {
    let question = format!(
        "revoke every key of owner {:?}? They stop working at once.",
        shown(owner)
    );
    if !yes && !confirmed(&question)? {
        println!("not revoked");
        return Ok(());
    }
    let change = store.revoke_owned(owner).await;
    for record in &change.changed {
        audit::revoked(record, actor());
        println!("revoked key {:?} (id {})", record.name, shown(&record.id));
    }
    if let Some(err) = change.stopped {
        return Err(stopped(err, change.changed.len()));
    }
    println!(
        "{} key(s) of owner {:?} revoked",
        change.changed.len(),
        shown(owner)
    );
    Ok(())
}

/// The failure that stopped a change to an owner's keys, saying how many
/// were changed before it.
fn stopped(err: StoreError, changed: usize) -> Failure {
    format!(
        "{} ({changed} key(s) were changed before it stopped)",
        ErrorChain(&err)
    )
    .into()
}

/// Suspends or resumes the key `id`, or every key of `owner`.
async fn one_or_owned(
    store: &dyn KeyManager,
    id: Option<String>,
    owner: Option<String>,
    suspended: bool,
) -> Result<(), Failure> {
    let Some(owner) = owner else {
        let id = id.unwrap_or_default();
        return set_suspended(store, &id, suspended).await;
    };
    let change = store.set_owned_suspended(&owner, suspended).await;
    let done = if suspended { "suspended" } else { "resumed" };
    for record in &change.changed {
        audit::suspension(record, suspended, actor());
        println!("{done} key {:?} (id {})", record.name, shown(&record.id));
    }
    if let Some(err) = change.stopped {
        return Err(stopped(err, change.changed.len()));
    }
    println!(
        "{} key(s) of owner {:?} {done}",
        change.changed.len(),
        shown(owner.as_str())
    );
    Ok(())
}

/// Suspends (`suspended`) or resumes the key `id`, saying what it did.
async fn set_suspended(store: &dyn KeyManager, id: &str, suspended: bool) -> Result<(), Failure> {
    let record = find(store, id).await?;
    let done = if suspended { "suspended" } else { "resumed" };
    if record.suspended == suspended {
        println!(
            "key {:?} ({}) was already {}",
            record.name,
            shown(&record.id),
            if suspended {
                "suspended"
            } else {
                "not suspended"
            }
        );
        return Ok(());
    }
    if !store.set_suspended(&record.id, suspended).await? {
        return Err(format!("no key has the id {:?} any more", record.id).into());
    }
    audit::suspension(&record, suspended, actor());
    println!("{done} key {:?} (id {})", record.name, shown(&record.id));
    Ok(())
}

async fn rotate(
    store: &dyn KeyManager,
    id: &str,
    grace: &str,
    json: bool,
    format: &KeyFormat,
) -> Result<(), Failure> {
    let grace = if grace.trim() == "0" {
        std::time::Duration::ZERO
    } else {
        duration("--grace", grace)?
    };
    let record = find(store, id).await?;
    let rotated = store.rotate(&record.id, grace).await?;
    audit::rotated(&rotated, actor());
    let retired = rotated.retired.clone();
    let (new, key) = rotated.new.reveal();
    let key = format.render(&key);
    let now = SystemTime::now();
    if json {
        let mut out = record_json(&new);
        out["key"] = serde_json::Value::from(key.as_str());
        out["retired"] = record_json(&retired);
        println!("{}", json_line(&out));
        return Ok(());
    }
    println!(
        "rotated key {:?}: the new key (id {}, prefix {}) is",
        new.name,
        shown(&new.id),
        new.prefix
    );
    println!();
    println!("    {}", key.as_str());
    println!();
    println!("This key is shown once and never again: copy it now.");
    if retired.revoked {
        println!("The old key (prefix {}) is revoked.", retired.prefix);
    } else if let Some(at) = retired.expires {
        println!(
            "The old key (prefix {}) keeps working until {} ({}); its answers carry Sunset.",
            retired.prefix,
            rfc3339(at),
            left(Some(at), now)
        );
    }
    Ok(())
}

/// Who acts, for the audit events: the user running the command.
fn actor() -> Actor<'static> {
    static WHO: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let who = WHO.get_or_init(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        format!("cli:{user}")
    });
    Actor::named(who)
}

/// A duration given on the command line, or a line saying what is wrong with it.
fn duration(flag: &str, text: &str) -> Result<std::time::Duration, Failure> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{flag} {text:?}: {e} (try 90d, 12h or 30m)").into())
}

/// How long until `at`: `in 59d 3h`, `expired 2d ago`, or `-` for never.
fn left(at: Option<SystemTime>, now: SystemTime) -> String {
    match at {
        None => "-".to_owned(),
        Some(at) => match at.duration_since(now) {
            Ok(left) => format!("in {}", span(left)),
            Err(past) => format!("expired {} ago", span(past.duration())),
        },
    }
}

/// How long ago `at` was: `3d 4h ago`.
fn ago(at: SystemTime, now: SystemTime) -> String {
    match now.duration_since(at) {
        Ok(since) => format!("{} ago", span(since)),
        Err(_) => "just now".to_owned(),
    }
}

/// A duration in its two largest units: `59d 3h`, `4h 12m`, `30s`.
fn span(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let parts: Vec<String> = units
        .iter()
        .scan(secs, |rest, &(size, name)| {
            let n = *rest / size;
            *rest %= size;
            Some((n, name))
        })
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n}{name}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The key whose id or prefix is `id`.
/// The key whose id is `id`, or else whose prefix it is.
async fn find(store: &dyn KeyManager, id: &str) -> Result<Arc<KeyRecord>, Failure> {
    if let Some(record) = store.find_by_id(id).await? {
        return Ok(record);
    }
    if let Ok(prefix) = api_key_auth::Prefix::parse(id) {
        if let Some(record) = store.find(prefix).await? {
            return Ok(record);
        }
    }
    Err(format!("no key has the id or prefix {id:?}").into())
}

async fn check(
    store: Arc<dyn KeyManager>,
    format: KeyFormat,
    from: Option<std::net::IpAddr>,
) -> Result<ExitCode, Failure> {
    let mut input = String::new();
    tokio::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .await?;
    let key = input.trim();
    let key = key.strip_prefix("Api-Key ").unwrap_or(key);
    if key.is_empty() {
        return Err("no key on standard input (the key is never taken from the command line, where shells keep history)".into());
    }
    let hasher = store.hasher();
    let auth = Authenticator::builder(Unspent(store))
        .hasher(hasher)
        .accept(format)
        .rate_limiter(NoBudget)
        .build()?;
    let mut headers = http::HeaderMap::new();
    let value = http::HeaderValue::try_from(format!("Api-Key {key}"))
        .map_err(|_| "the input is not a key: it holds characters a key never has")?;
    headers.insert(http::header::AUTHORIZATION, value);
    match auth.authenticate_from(&headers, from).await {
        Ok(Some(identity)) => {
            println!(
                "accepted: key {:?} (id {}, prefix {})",
                identity.name(),
                shown(identity.id()),
                identity.prefix()
            );
            let now = SystemTime::now();
            if let Some(at) = identity.sunset() {
                println!(
                    "it has been replaced and stops working at {} ({})",
                    rfc3339(at),
                    left(Some(at), now)
                );
            } else if let Some(at) = identity.expires() {
                println!("it expires at {} ({})", rfc3339(at), left(Some(at), now));
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Err("no key was read".into()),
        Err(api_key_auth::AuthFailure::Unsupported { prefix, .. }) if from.is_none() => Err(
            format!("key {prefix} may be used only from listed networks: give --from ADDRESS")
                .into(),
        ),
        // A store that failed, or a key this command cannot check: no verdict.
        Err(failure) if failure.status() == http::StatusCode::SERVICE_UNAVAILABLE => {
            Err(StoreError::unavailable(ErrorChain(&failure).to_string()).into())
        }
        Err(failure) => {
            println!("refused: {}", shown(&ErrorChain(&failure).to_string()));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The rate limiter of `check`, which asks whether a key is valid, not
/// whether it has requests left: a key's rate limit is never spent or
/// refused here, whatever features the command was built with.
struct NoBudget;

/// The store as `check` sees it: a key's usage credits are read, never
/// spent (asking whether a key works costs the key nothing).
struct Unspent(Arc<dyn KeyManager>);

#[async_trait::async_trait]
impl api_key_auth::KeyStore for Unspent {
    async fn find(&self, prefix: api_key_auth::Prefix) -> api_key_auth::Lookup {
        self.0.find(prefix).await
    }

    fn hash_algorithm(&self) -> Option<api_key_auth::hash::Algorithm> {
        self.0.hash_algorithm()
    }

    async fn upgrade_hash(
        &self,
        record: &KeyRecord,
        new: api_key_auth::hash::StoredHash,
    ) -> Result<bool, StoreError> {
        self.0.upgrade_hash(record, new).await
    }

    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<api_key_auth::store::CreditSpend, StoreError>> {
        use api_key_auth::store::CreditSpend;
        let now = SystemTime::now();
        Some(Ok(match record.credits {
            Some(credits) if credits.left_at(now) < cost => CreditSpend::Exhausted {
                next_refill: credits.next_refill(now),
            },
            credits => CreditSpend::Spent {
                remaining: credits.map(|c| c.left_at(now)),
            },
        }))
    }
}

#[async_trait::async_trait]
impl api_key_auth::rate_limit::RateLimiter for NoBudget {
    fn check_now(
        &self,
        _key: &KeyRecord,
        limit: &api_key_auth::rate_limit::RateLimit,
    ) -> Option<api_key_auth::rate_limit::RateDecision> {
        Some(api_key_auth::rate_limit::RateDecision::allow(limit.burst()))
    }

    async fn check(
        &self,
        _key: &KeyRecord,
        limit: &api_key_auth::rate_limit::RateLimit,
    ) -> Result<api_key_auth::rate_limit::RateDecision, StoreError> {
        Ok(api_key_auth::rate_limit::RateDecision::allow(limit.burst()))
    }
}

/// The proxies in front of a server of the command, and the header they
/// name the client in.
#[derive(Debug, clap::Args)]
struct ProxyArgs {
    /// A proxy or gateway (address or network) whose forwarded headers are
    /// believed: the client's address, which failed attempts are throttled
    /// by, and for the gate the original method, path, host and scheme;
    /// repeat for more. From anyone else they are ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<String>,
    /// The header the trusted proxies write the client's address into.
    #[arg(
        long,
        value_enum,
        default_value = "x-forwarded-for",
        value_name = "HEADER"
    )]
    forwarded_header: ForwardedHeaderArg,
}

impl ProxyArgs {
    fn proxies(&self) -> Result<api_key_auth::client_addr::TrustedProxies, Failure> {
        Ok(
            api_key_auth::client_addr::TrustedProxies::new(&self.trusted_proxies)?
                .reading(self.forwarded_header.into()),
        )
    }
}

/// `--forwarded-header`: which header trusted proxies write.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ForwardedHeaderArg {
    XForwardedFor,
    Forwarded,
}

impl From<ForwardedHeaderArg> for api_key_auth::client_addr::ForwardingHeader {
    fn from(arg: ForwardedHeaderArg) -> Self {
        match arg {
            ForwardedHeaderArg::XForwardedFor => Self::XForwardedFor,
            ForwardedHeaderArg::Forwarded => Self::Forwarded,
        }
    }
}

async fn serve(
    store: Arc<dyn KeyManager>,
    listen: std::net::SocketAddr,
    admin_scope: String,
    format: KeyFormat,
    proxies: api_key_auth::client_addr::TrustedProxies,
) -> Result<(), Failure> {
    let router = api_key_auth::admin::AdminApi::new(store)
        .admin_scope(admin_scope)
        .key_format(format)
        .trusted_proxies(proxies)
        .router()?;
    // The admin API's audit events (who created or revoked what) and store
    // warnings, on stderr.
    // Colours only for a person at a terminal: a redirected log keeps no
    // escape sequences.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    println!("admin API listening on http://{addr} (its OpenAPI document at /openapi.json)");
    std::io::stdout().flush()?;
    // With each client's address, which failed attempts are throttled by.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}

fn time(at: Option<SystemTime>) -> String {
    at.map_or_else(|| "-".to_owned(), rfc3339)
}

/// Text from a store, safe for a terminal: control characters (which could
/// forge table rows or drive the terminal) and format characters (which
/// reorder or hide text) shown escaped.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    api_key_auth::text::printable(text)
}

/// A JSON value as one line, with the control and format characters of its
/// strings escaped (`serde_json` leaves C1 and format characters as they
/// are): the same value, safe for a terminal.
fn json_line(value: &serde_json::Value) -> String {
    api_key_auth::text::json_printable(&value.to_string()).into_owned()
}

/// The record as the admin API shows it, with what a shell script may also
/// want: whether it is revoked and how its hash is made.
fn record_json(record: &KeyRecord) -> serde_json::Value {
    let view = api_key_auth::admin::KeyView::of(record, SystemTime::now());
    let mut out = serde_json::to_value(view).expect("a key view is JSON");
    out["revoked"] = record.revoked.into();
    out["hash_algorithm"] = record.hash.algorithm().name().into();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spans_show_their_two_largest_units() {
        assert_eq!(
            span(Duration::from_secs(59 * 86_400 + 3 * 3_600 + 7)),
            "59d 3h"
        );
        assert_eq!(span(Duration::from_secs(4 * 3_600 + 12 * 60)), "4h 12m");
        assert_eq!(span(Duration::from_secs(86_400 + 5)), "1d");
        assert_eq!(span(Duration::from_secs(30)), "30s");
        assert_eq!(span(Duration::ZERO), "0s");
        let now = SystemTime::now();
        assert_eq!(left(None, now), "-");
        assert_eq!(left(Some(now + Duration::from_secs(7_200)), now), "in 2h");
        assert_eq!(
            left(Some(now - Duration::from_secs(172_800)), now),
            "expired 2d ago"
        );
        assert_eq!(ago(now - Duration::from_secs(90), now), "1m 30s ago");
    }
}
