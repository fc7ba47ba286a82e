//! Operator commands that change accounts. A running server owns the metadata store (redb holds an exclusive
//! lock), so `coffer account create` asks it over a Unix socket in the data directory — reachable only by the
//! data directory's owner — and opens the store itself only when no server is running.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::state::{self, Layout};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum AdminRequest {
    CreateAccount { name: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct CreatedAccount {
    account_id: String,
    name: String,
    access_key_id: String,
    secret_access_key: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum AdminResponse {
    Created(CreatedAccount),
    Error { error: String },
}

/// Starts the admin socket of a running server.
pub fn listen(layout: &Layout, iam: iam::Iam) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let path = layout.admin_socket();
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let iam = iam.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = tokio::io::BufReader::new(read);
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                let response = match serde_json::from_str::<AdminRequest>(&line) {
                    Ok(AdminRequest::CreateAccount { name }) => create(&iam, &name).await,
                    Err(e) => AdminResponse::Error {
                        error: format!("bad admin request: {e}"),
                    },
                };
                let mut text = serde_json::to_string(&response).unwrap_or_default();
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            });
        }
    }))
}

async fn create(iam: &iam::Iam, name: &str) -> AdminResponse {
    // The system account is the deployment's own (its user `edge` is the edge identity); nobody gets its root.
    if name == crate::edge::SYSTEM_ACCOUNT {
        return AdminResponse::Error {
            error: format!("the account name {name} is reserved for coffer itself"),
        };
    }
    match iam.create_account(name, None).await {
        Ok((account, akid, secret)) => AdminResponse::Created(CreatedAccount {
            account_id: account.id,
            name: account.name,
            access_key_id: akid,
            secret_access_key: secret.to_string(),
        }),
        Err(e) => AdminResponse::Error {
            error: e.to_string(),
        },
    }
}

/// `coffer account create`: through the running server if there is one, else directly on the data directory.
pub fn create_account(data_dir: &Path, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(data_dir);
    let response = match UnixStream::connect(layout.admin_socket()) {
        Ok(mut stream) => {
            let mut req = serde_json::to_string(&AdminRequest::CreateAccount {
                name: name.to_owned(),
            })?;
            req.push('\n');
            stream.write_all(req.as_bytes())?;
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line)?;
            serde_json::from_str(&line).context("reading the server's answer")?
        }
        Err(_) => {
            let opened = state::open_state(&layout).context(
                "no coffer server answered on the admin socket, and the data directory could not be opened",
            )?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(create(&opened.iam, name))
        }
    };
    match response {
        AdminResponse::Created(c) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                print!(
                    "{}",
                    state::credentials_file(
                        &c.name,
                        &c.access_key_id,
                        &c.secret_access_key,
                        &c.account_id
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminResponse::Error { error } => bail!("{error}"),
    }
}
