//! The built-in apps that images like `luksa/kubia` and `nginx` name (`ferry app <name>`):
//! small servers that behave like the images the book and the tutorials use, so pods need no
//! image download.

use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The longest request head an app reads.
const MAX_HEAD: usize = 16 * 1024;

/// nginx's welcome page, as the `nginx` image serves it.
const NGINX_WELCOME: &str = "<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href=\"http://nginx.org/\">nginx.org</a>.<br/>
Commercial support is available at
<a href=\"http://nginx.com/\">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
";

/// Runs the app `name` until it is killed.
pub async fn run(name: &str) -> anyhow::Result<()> {
    match name {
        "kubia" => kubia().await,
        "nginx" => nginx().await,
        "sleep" => loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        },
        other => anyhow::bail!("no built-in app {other:?} (kubia, nginx, sleep)"),
    }
}

/// The book's kubia: port 8080, `You've hit <hostname>` for every request, and a log line
/// per request.
async fn kubia() -> anyhow::Result<()> {
    // The UTS namespace's name, which is what os.hostname() returns to the book's app.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    println!("Kubia server starting...");
    let listener = TcpListener::bind(("0.0.0.0", 8080))
        .await
        .context("listen on port 8080")?;
    serve(listener, move |peer| {
        println!("Received request from ::ffff:{peer}");
        ("200 OK", "text/plain", format!("You've hit {hostname}\n"))
    })
    .await
}

/// nginx: port 80, the welcome page for every request.
async fn nginx() -> anyhow::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", 80))
        .await
        .context("listen on port 80")?;
    serve(listener, |_| {
        ("200 OK", "text/html", NGINX_WELCOME.to_string())
    })
    .await
}

/// Answers every HTTP/1.x request on `listener` with what `respond` says, then closes.
async fn serve<F>(listener: TcpListener, respond: F) -> anyhow::Result<()>
where
    F: Fn(std::net::IpAddr) -> (&'static str, &'static str, String) + Clone + Send + 'static,
{
    loop {
        let (mut stream, peer) = listener.accept().await.context("accept")?;
        let respond = respond.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 2048];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let (status, content_type, body) = respond(peer.ip());
            let head_only = head.starts_with(b"HEAD ");
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                if head_only { "" } else { body.as_str() }
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
