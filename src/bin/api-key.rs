//! `api-key`: create, list, show, revoke and check API keys in any store the
//! crate has, from a shell (feature `cli`). Run `api-key --help`.
//!
//! Everything here goes through the public `KeyManager` API, so any store
//! the crate can open works alike; a failure is one line on stderr and exit
//! status 1, never a panic.

use std::{
    collections::BTreeMap,
    io::{IsTerminal as _, Write as _},
    process::ExitCode,
    sync::Arc,
    time::SystemTime,
};

use api_key_auth::{
    store::{
        open::{open, redacted, Opened},
        rfc3339, KeyFilter, PageRequest, MAX_PAGE,
    },
    AuthFailure, Authenticator, ErrorChain, KeyManager, KeyRecord, NewKey, StoreError,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::io::AsyncReadExt as _;

const EXAMPLES: &str = "\
Examples:
  api-key --store sqlite:keys.db migrate
  api-key --store sqlite:keys.db create --name billing --scope invoices:read --expires-in 90d
  APIKEY_STORE=postgres://app@db/app api-key list --status active
  echo \"$KEY\" | api-key --store sqlite:keys.db check
  api-key --store sqlite:keys.db revoke n58lzybi --yes

The first admin key: api-key --store URL create --name admin --scope keys:admin
Then the admin API: api-key --store URL serve --listen 127.0.0.1:8080";

/// Manage API keys: create them (shown once), list, show, revoke, and check
/// whether a store accepts a key.
#[derive(Debug, Parser)]
#[command(name = "api-key", version, after_help = EXAMPLES)]
struct Cli {
    /// The key store: memory, sqlite:PATH, postgres://…, mysql://… or redis://…
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
        after_help = "Example:\n  api-key --store sqlite:keys.db create --name billing --scope invoices:read --expires-in 90d --meta ticket=OPS-12"
    )]
    Create(CreateArgs),
    /// List keys, page by page.
    #[command(
        after_help = "Example:\n  api-key --store sqlite:keys.db list --status active --json"
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
    #[command(after_help = "Example:\n  api-key --store sqlite:keys.db revoke n58lzybi --yes")]
    Revoke {
        /// The key's id or prefix.
        id: String,
        /// Do not ask for confirmation (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Serve the admin API over the store: create, list, show and revoke
    /// keys over HTTP, for admin keys only.
    #[command(
        after_help = "Example:\n  api-key --store sqlite:keys.db serve --listen 127.0.0.1:8080\n  curl -H \"Authorization: Api-Key $ADMIN_KEY\" http://127.0.0.1:8080/keys"
    )]
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The scope an admin key needs.
        #[arg(long, default_value = api_key_auth::admin::DEFAULT_ADMIN_SCOPE)]
        admin_scope: String,
    },
    /// Read a key from standard input and say whether the store accepts it,
    /// and if not why; exit status 0 when accepted, 1 when not.
    #[command(after_help = "Example:\n  echo \"$KEY\" | api-key --store sqlite:keys.db check")]
    Check,
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
    /// Print the key and its record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Which keys to list.
    #[arg(long, value_enum, default_value_t = StatusArg::All)]
    status: StatusArg,
    /// Print one JSON object per key per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    Active,
    Revoked,
    Expired,
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
    eprintln!("api-key: {}", ErrorChain(err));
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let url = cli
        .store
        .ok_or("no key store: give --store URL or set APIKEY_STORE")?;
    let drf = cli.schema == SchemaArg::Drf;
    let opened = open(&url, drf)
        .await
        .map_err(|e| format!("cannot open {}: {}", redacted(&url), ErrorChain(&e)))?;
    if let Command::Migrate { remove_triggers } = cli.command {
        migrate(opened, &url, remove_triggers).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = opened.into_manager();
    match cli.command {
        Command::Migrate { .. } => {}
        Command::Create(args) => create(&*store, args).await?,
        Command::List(args) => list(&*store, args).await?,
        Command::Show { id, json } => {
            let record = find(&*store, &id).await?;
            if json {
                println!("{}", record_json(&record));
            } else {
                show(&record);
            }
        }
        Command::Revoke { id, yes } => revoke(&*store, &id, yes).await?,
        Command::Check => return check(store).await,
        Command::Serve {
            listen,
            admin_scope,
        } => serve(store, listen, admin_scope).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Opening a store of this crate's own tables created or upgraded them; on
/// a SQL store, the change triggers go in (or out): PostgreSQL's announce
/// each change, SQLite's and MySQL's write it to the change log.
async fn migrate(opened: Opened, url: &str, remove: bool) -> Result<(), Failure> {
    let shown = redacted(url);
    let done = match (opened, remove) {
        (Opened::Postgres(store), false) => store.install_change_triggers().await,
        (Opened::Postgres(store), true) => store.remove_change_triggers().await,
        (Opened::Sqlite(store), false) => store.install_change_triggers().await,
        (Opened::Sqlite(store), true) => store.remove_change_triggers().await,
        (Opened::MySql(store), false) => store.install_change_triggers().await,
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

async fn create(store: &dyn KeyManager, args: CreateArgs) -> Result<(), Failure> {
    let mut new = NewKey::named(args.name.trim()).scopes(args.scopes);
    if args.name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    let controls = |text: &str| text.chars().any(char::is_control);
    if controls(&args.name)
        || args.owner.as_deref().is_some_and(controls)
        || args.metadata.iter().any(|m| controls(m))
    {
        return Err("--name, --owner and --meta hold no control characters".into());
    }
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
    let (record, key) = store.create(new).await?.reveal();
    if args.json {
        let mut out = record_json(&record);
        out["key"] = serde_json::Value::from(key.expose_secret());
        println!("{out}");
    } else {
        println!(
            "created key {:?} (id {}, prefix {}):",
            record.name, record.id, record.prefix
        );
        println!();
        println!("    {}", key.expose_secret());
        println!();
        println!("This key is shown once and never again: copy it now.");
    }
    Ok(())
}

async fn list(store: &dyn KeyManager, args: ListArgs) -> Result<(), Failure> {
    let filter = match args.status {
        StatusArg::Active => KeyFilter::Active,
        StatusArg::Revoked => KeyFilter::Revoked,
        StatusArg::Expired => KeyFilter::Expired,
        StatusArg::All => KeyFilter::All,
    };
    let mut request = PageRequest::first(MAX_PAGE).filter(filter);
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "{}",
            row(["ID", "NAME", "PREFIX", "CREATED", "EXPIRES", "STATUS", "SCOPES"])
        )?;
    }
    let now = SystemTime::now();
    loop {
        // One page in memory at a time, however many keys there are.
        let page = store.list_page(&request).await?;
        for record in &page.keys {
            if args.json {
                writeln!(out, "{}", record_json(record))?;
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
                        status(record, now),
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
fn row(cells: [&str; 7]) -> String {
    let widths = [10, 24, 9, 20, 20, 8];
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        line.push_str(&format!("{cell:<width$} "));
    }
    line.push_str(cells[6]);
    line.trim_end().to_owned()
}

fn show(record: &KeyRecord) {
    let now = SystemTime::now();
    println!("id        {}", shown(&record.id));
    println!("name      {}", shown(&record.name));
    println!("prefix    {}", record.prefix);
    println!("status    {}", status(record, now));
    println!("created   {}", time(Some(record.created)));
    println!("expires   {}", time(record.expires));
    println!("scopes    {}", shown(&record.scopes.join(" ")));
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
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                "revoking asks for confirmation on a terminal; pass --yes in scripts".into(),
            );
        }
        print!(
            "revoke key {:?} (id {}, prefix {})? It stops working at once. [y/N] ",
            record.name, record.id, record.prefix
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("not revoked");
            return Ok(());
        }
    }
    if !store.revoke(&record.id).await? {
        return Err(format!("no key has the id {:?} any more", record.id).into());
    }
    println!("revoked key {:?} (id {})", record.name, record.id);
    Ok(())
}

/// The key whose id or prefix is `id`.
async fn find(store: &dyn KeyManager, id: &str) -> Result<Arc<KeyRecord>, Failure> {
    store
        .find_by_id(id)
        .await?
        .ok_or_else(|| format!("no key has the id or prefix {id:?}").into())
}

async fn check(store: Arc<dyn KeyManager>) -> Result<ExitCode, Failure> {
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
    let auth = Authenticator::builder(store).hasher(hasher).build()?;
    let mut headers = http::HeaderMap::new();
    let value = http::HeaderValue::try_from(format!("Api-Key {key}"))
        .map_err(|_| "the input is not a key: it holds characters a key never has")?;
    headers.insert(http::header::AUTHORIZATION, value);
    match auth.authenticate(&headers).await {
        Ok(Some(identity)) => {
            println!(
                "accepted: key {:?} (id {}, prefix {})",
                identity.name(),
                identity.id(),
                identity.prefix()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Err("no key was read".into()),
        Err(failure @ AuthFailure::StoreUnavailable { .. }) => {
            Err(StoreError::unavailable(ErrorChain(&failure).to_string()).into())
        }
        Err(failure) => {
            println!("refused: {}", ErrorChain(&failure));
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(
    store: Arc<dyn KeyManager>,
    listen: std::net::SocketAddr,
    admin_scope: String,
) -> Result<(), Failure> {
    let router = api_key_auth::admin::AdminApi::new(store)
        .admin_scope(admin_scope)
        .router()?;
    // The admin API's audit events (who created or revoked what) and store
    // warnings, on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    println!("admin API listening on http://{addr} (its OpenAPI document at /openapi.json)");
    std::io::stdout().flush()?;
    axum::serve(listener, router).await?;
    Ok(())
}

fn status(record: &KeyRecord, now: SystemTime) -> &'static str {
    if record.revoked {
        "revoked"
    } else if record.is_expired_at(now) {
        "expired"
    } else {
        "active"
    }
}

fn time(at: Option<SystemTime>) -> String {
    at.map_or_else(|| "-".to_owned(), rfc3339)
}

/// Text from a store, safe for a terminal: control characters (which could
/// forge table rows or drive the terminal) shown escaped.
fn shown(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn record_json(record: &KeyRecord) -> serde_json::Value {
    let metadata: BTreeMap<&str, &str> = record
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::json!({
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix.as_str(),
        "status": status(record, SystemTime::now()),
        "created": time(Some(record.created)),
        "expires": record.expires.map(|at| time(Some(at))),
        "revoked": record.revoked,
        "scopes": record.scopes,
        "owner": record.owner,
        "metadata": metadata,
        "hash_algorithm": record.hash.algorithm().name(),
    })
}
