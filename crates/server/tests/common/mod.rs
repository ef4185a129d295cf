//! Helpers shared by the server's integration tests.

use synod_server::server::Listeners;
use tokio::net::TcpListener;

/// Listeners for one node on loopback ports chosen by the kernel.
pub async fn bind() -> Listeners {
    let listener = || async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port")
    };
    Listeners {
        client: listener().await,
        peer: listener().await,
        admin: listener().await,
    }
}
