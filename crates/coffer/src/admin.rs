//! Operator commands that change accounts. A running server owns the metadata store (redb holds an exclusive
//! lock), so `coffer account create` asks it over a Unix socket in the data directory — reachable only by the
//! data directory's owner — and opens the store itself only when no server is running.
//!
//! The socket is bound inside its own 0700 directory, so it is owner-only from the moment it exists (a chmod
//! after binding leaves a window in which anyone could connect); a connection from another user (root aside) is
//! refused by its peer credentials as well; and a request is one line of at most [`MAX_REQUEST`] bytes, read
//! within [`REQUEST_TIMEOUT`].

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::state::{self, Layout};

/// The longest admin request line, newline included; an account name is at most 64 characters.
const MAX_REQUEST: u64 = 4096;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

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
    let dir = layout.admin_dir();
    state::private_dir(&dir)?;
    let owner = std::fs::metadata(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .uid();
    let path = layout.admin_socket();
    let _ = std::fs::remove_file(&path);
    // Releases of coffer before the admin directory bound the socket in the data directory itself.
    let _ = std::fs::remove_file(layout.root().join("admin.sock"));
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("binding {}", path.display()))?;
    // Unreachable through the 0700 directory anyway; the socket's own mode says the same.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("admin socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let peer = stream.peer_cred().ok().map(|c| c.uid());
            if !peer.is_some_and(|uid| uid == owner || uid == 0) {
                tracing::warn!("refusing an admin connection from uid {peer:?}");
                continue;
            }
            let iam = iam.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let response = match read_request(read).await {
                    Ok(AdminRequest::CreateAccount { name }) => create(&iam, &name).await,
                    Err(error) => AdminResponse::Error { error },
                };
                let mut text = serde_json::to_string(&response).unwrap_or_default();
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            });
        }
    }))
}

/// Reads one request line, bounded in length and time.
async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<AdminRequest, String> {
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => return Err("bad admin request: timed out".into()),
        Ok(Err(e)) => return Err(format!("bad admin request: {e}")),
        Ok(Ok(_)) => {}
    }
    if !line.ends_with('\n') {
        return Err(format!(
            "bad admin request: not one line of at most {MAX_REQUEST} bytes"
        ));
    }
    serde_json::from_str::<AdminRequest>(&line).map_err(|e| format!("bad admin request: {e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn request_of(bytes: Vec<u8>) -> Result<AdminRequest, String> {
        let (client, server) = tokio::net::UnixStream::pair().unwrap();
        let (read, _write) = server.into_split();
        let writer = tokio::spawn(async move {
            let mut client = client;
            // The server stops reading at the limit; a write past it may fail, which is the point.
            let _ = client.write_all(&bytes).await;
            client
        });
        let out = read_request(read).await;
        drop(writer);
        out
    }

    #[tokio::test]
    async fn requests_are_one_bounded_line() {
        let ok = request_of(b"{\"op\":\"create_account\",\"name\":\"a\"}\n".to_vec()).await;
        assert!(matches!(ok, Ok(AdminRequest::CreateAccount { name }) if name == "a"));
        let endless = request_of(vec![b'x'; 1 << 20]).await.unwrap_err();
        assert!(endless.contains("at most 4096 bytes"), "{endless}");
        let garbage = request_of(b"nope\n".to_vec()).await.unwrap_err();
        assert!(garbage.starts_with("bad admin request"), "{garbage}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out() {
        let (_client, server) = tokio::net::UnixStream::pair().unwrap();
        let (read, _write) = server.into_split();
        let e = read_request(read).await.unwrap_err();
        assert!(e.contains("timed out"), "{e}");
    }
}
