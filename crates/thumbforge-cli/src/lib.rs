#![doc = include_str!("../README.md")]

pub mod client;
mod embedded;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use thumbforge_config::{Overrides, Settings};
use thumbforge_core::{Plan, ProviderKind};
use thumbforge_db::{Db, credits, keys, orgs, provider_keys};

pub use embedded::{DEV_ORG, Embedded};

#[derive(Debug, Parser)]
#[command(
    name = "thumbforge",
    version,
    about = "Self-hostable YouTube thumbnail generation"
)]
pub struct Cli {
    /// Data directory: SQLite files, images, the URL-signing secret.
    #[arg(long, global = true, env = "THUMBFORGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command talks to a server over HTTP rather than to the
    /// database (it needs no configuration, data dir or telemetry).
    pub fn is_client(&self) -> bool {
        matches!(
            self.command,
            Command::Generate { .. } | Command::Generations { .. }
        )
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and in-process workers on the embedded database and queue.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "THUMBFORGE_BIND")]
        bind: Option<String>,
        /// Thumbnails rendered at once.
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Apply database migrations.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Show or change an organisation's credit balance. A new organisation
    /// is unmetered (no balance, nothing debited) until a balance is set.
    Credits {
        /// Organisation slug.
        #[arg(long)]
        org: String,
        /// Set the balance to this many credits (metered from now on).
        #[arg(long, conflicts_with_all = ["add", "unmetered"])]
        set: Option<i64>,
        /// Add (or, negative, remove) credits; the org must be metered.
        #[arg(long, allow_hyphen_values = true, conflicts_with = "unmetered")]
        add: Option<i64>,
        /// Stop metering: no balance, nothing debited.
        #[arg(long)]
        unmetered: bool,
    },
    /// Make thumbnails on a server (`--server`/THUMBFORGE_URL) and, with
    /// --wait, watch them and download the PNGs. Exits 3 if the generation
    /// failed, 4 if partial, 5 if canceled, 130 on Ctrl-C (it keeps running).
    Generate {
        #[command(flatten)]
        connection: client::Connection,
        #[command(flatten)]
        args: client::GenerateArgs,
    },
    /// List, show, wait for, cancel or delete generations on a server.
    Generations {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::GenerationsCommand,
    },
    /// After a server-secret rotation: seal every provider key and webhook
    /// secret again under the current secret (THUMBFORGE_SECRET), opening
    /// them with THUMBFORGE_PREVIOUS_SECRET. Safe to run more than once.
    Reseal,
    /// Manage an organisation's own provider keys (bring your own key).
    /// Keys are sealed with the server secret and never printed.
    ProviderKeys {
        #[command(subcommand)]
        command: ProviderKeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProviderKeysCommand {
    /// Store (or replace) a key, read from standard input.
    Set {
        /// Organisation slug.
        #[arg(long)]
        org: String,
        /// openai, google, fal or kie.
        #[arg(long, value_parser = parse_provider)]
        provider: ProviderKind,
    },
    /// List which providers have keys (never the keys).
    List {
        #[arg(long)]
        org: String,
    },
    /// Remove a key.
    Delete {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = parse_provider)]
        provider: ProviderKind,
    },
}

fn parse_provider(raw: &str) -> Result<ProviderKind, String> {
    raw.parse()
        .map_err(|()| format!("unknown provider `{raw}` (expected openai, google, fal or kie)"))
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key (printed alone on the last line), creating the org if needed.
    Create {
        /// Organisation slug.
        #[arg(long)]
        org: String,
        /// Plan for a new org, or a change of plan for an existing one.
        #[arg(long, value_parser = parse_plan)]
        plan: Option<Plan>,
        /// Space- or comma-separated scopes: `thumbnail_generator` (the
        /// API), `admin` (the operator's queue endpoints and dashboard).
        #[arg(long, default_value = keys::DEFAULT_SCOPES)]
        scopes: String,
    },
    /// List an organisation's keys (ids, prefixes, scopes; never the keys).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key by its id (from `keys list`). API replicas stop
    /// accepting it within `api.auth_cache_secs`.
    Revoke {
        #[arg(long)]
        org: String,
        /// The key's id (`key_…`).
        id: String,
    },
}

fn parse_plan(raw: &str) -> Result<Plan, String> {
    raw.parse()
}

/// Runs a client command (see [`Cli::is_client`]); the outcome is the exit
/// code.
pub async fn run_client(cli: Cli) -> anyhow::Result<client::Outcome> {
    match cli.command {
        Command::Generate { connection, args } => client::generate(&connection, args).await,
        Command::Generations {
            connection,
            command,
        } => client::generations(&connection, command).await,
        _ => anyhow::bail!("not a client command"),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let (bind, workers) = match &cli.command {
        Command::Serve { bind, workers } => (bind.clone(), *workers),
        _ => (None, None),
    };
    let settings = Settings::load(&Overrides {
        bind,
        data_dir: cli.data_dir.clone(),
        concurrency: workers,
    })?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        Command::Migrate => {
            let db = open_db(&settings).await?;
            db.migrate().await.context("migrating")?;
            eprintln!("migrations applied to {}", redact(&settings.database_url()));
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List { org },
        } => {
            let db = open_db(&settings).await?;
            let org = find_org(&db, &org).await?;
            for key in keys::list(&db, &org.id).await? {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", client::format_ms(at)),
                    None => "live".to_owned(),
                };
                println!(
                    "{}\t{}…\t{}\tcreated {}\t{state}",
                    key.id,
                    key.key_prefix,
                    key.scopes,
                    client::format_ms(key.created_at)
                );
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Revoke { org, id },
        } => {
            let db = open_db(&settings).await?;
            let org = find_org(&db, &org).await?;
            anyhow::ensure!(
                keys::revoke(&db, &org.id, &id).await?,
                "org `{}` has no live key `{id}`",
                org.slug
            );
            eprintln!("revoked {id}");
            Ok(())
        }
        Command::Reseal => {
            let db = open_db(&settings).await?;
            db.migrate().await.context("migrating")?;
            let secret = settings
                .resolve_secret()
                .context("reading the server secret")?;
            anyhow::ensure!(
                settings.previous_secret.is_some(),
                "set THUMBFORGE_PREVIOUS_SECRET to the secret being replaced"
            );
            let sealer = thumbforge_runtime::sealer(&settings, &secret);
            let keys = provider_keys::reseal(&db, &sealer).await?;
            let hooks = thumbforge_db::webhooks::reseal(&db, &sealer).await?;
            for (what, r) in [("provider keys", keys), ("webhook secrets", hooks)] {
                println!(
                    "{what}: {} re-sealed, {} already current, {} unreadable",
                    r.resealed, r.current, r.unreadable
                );
            }
            anyhow::ensure!(
                keys.unreadable + hooks.unreadable == 0,
                "some values opened with neither secret; those must be set again"
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Create { org, plan, scopes },
        } => {
            let db = open_db(&settings).await?;
            db.migrate().await.context("migrating")?;
            let org = orgs::ensure(&db, &org, plan)
                .await
                .context("creating the organisation")?;
            let scopes = scopes.replace(',', " ");
            let key = keys::create(&db, &org.id, scopes.trim())
                .await
                .context("creating the key")?;
            eprintln!(
                "created a key for org `{}` (plan {}); it is shown once:",
                org.slug, org.plan
            );
            println!("{key}");
            Ok(())
        }
        Command::ProviderKeys { command } => provider_keys_command(&settings, command).await,
        Command::Generate { .. } | Command::Generations { .. } => run_client(cli).await.map(|_| ()),
        Command::Credits {
            org,
            set,
            add,
            unmetered,
        } => {
            let db = open_db(&settings).await?;
            db.migrate().await.context("migrating")?;
            let org = find_org(&db, &org).await?;
            let current = credits::balance(&db, &org.id).await?.flatten();
            let next = match (set, add, unmetered) {
                (Some(n), _, _) => Some(Some(n)),
                (_, Some(n), _) => {
                    let current = current.with_context(|| {
                        format!("org `{}` is unmetered; use --set first", org.slug)
                    })?;
                    Some(Some(current + n))
                }
                (_, _, true) => Some(None),
                _ => None,
            };
            if let Some(next) = next {
                credits::set_balance(&db, &org.id, next).await?;
            }
            match credits::balance(&db, &org.id).await?.flatten() {
                Some(n) => println!("{n}"),
                None => println!("unmetered"),
            }
            Ok(())
        }
    }
}

async fn provider_keys_command(
    settings: &Settings,
    command: ProviderKeysCommand,
) -> anyhow::Result<()> {
    let db = open_db(settings).await?;
    db.migrate().await.context("migrating")?;
    match command {
        ProviderKeysCommand::Set { org, provider } => {
            let org = find_org(&db, &org).await?;
            let mut key = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut key)
                .context("reading the key from standard input")?;
            let key = key.trim();
            anyhow::ensure!(!key.is_empty(), "no key on standard input");
            let secret = settings
                .resolve_secret()
                .context("reading the server secret")?;
            let sealer = thumbforge_runtime::sealer(settings, &secret);
            provider_keys::set(&db, &sealer, &org.id, provider, key)
                .await
                .context("storing the key")?;
            eprintln!("stored the {provider} key for org `{}`", org.slug);
        }
        ProviderKeysCommand::List { org } => {
            let org = find_org(&db, &org).await?;
            for row in provider_keys::list(&db, &org.id).await? {
                println!(
                    "{}\tset {}",
                    row.provider,
                    client::format_ms(row.updated_at)
                );
            }
        }
        ProviderKeysCommand::Delete { org, provider } => {
            let org = find_org(&db, &org).await?;
            anyhow::ensure!(
                provider_keys::delete(&db, &org.id, provider).await?,
                "org `{}` has no {provider} key",
                org.slug
            );
            eprintln!("removed the {provider} key of org `{}`", org.slug);
        }
    }
    Ok(())
}

/// The organisation with this slug, or an error that names it.
async fn find_org(db: &Db, slug: &str) -> anyhow::Result<orgs::Org> {
    orgs::find_by_slug(db, slug)
        .await
        .context("reading the organisation")?
        .with_context(|| format!("no organisation `{slug}`"))
}

async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let mut settings = settings.clone();
    settings.database.max_connections = 2;
    thumbforge_runtime::connect_db(&settings).await
}

/// Hides a password in a database URL before printing it.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Embedded::start(settings).await?;
    let url = format!("http://{}", app.local_addr());
    println!("thumbforge listening on {url}");
    if let Some(key) = app.first_key() {
        println!();
        println!(
            "Created the development organisation `{DEV_ORG}` and its API key (shown once, keep it):"
        );
        println!("  {key}");
        println!();
        println!("Try it:");
        println!(
            "  curl -s -X POST {url}/api/v1/generate -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"prompt\": \"I built a Rust web service in 24 hours\", \"count\": 2}}'"
        );
        println!(
            "  curl -s {url}/api/v1/generations/GENERATION_ID -H 'Authorization: Bearer {key}'"
        );
        println!();
    }
    let dev = orgs::find_by_slug(app.db(), DEV_ORG)
        .await
        .context("reading the development organisation")?;
    match dev.map(|org| org.plan) {
        Some(Plan::Unlimited) => println!(
            "Organisation `{DEV_ORG}` is on the unlimited plan: no rate limits, storage quota or queue caps ([limits.unlimited])."
        ),
        Some(plan) => println!(
            "Organisation `{DEV_ORG}` is on the {plan} plan ([limits.{plan}] applies); `thumbforge keys create --org {DEV_ORG} --plan unlimited` lifts its limits."
        ),
        None => {}
    }
    println!("Press Ctrl-C to stop.");
    thumbforge_runtime::shutdown_signal().await;
    println!("stopping: finishing running thumbnails…");
    app.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:p@h/db"), "postgres://…@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
