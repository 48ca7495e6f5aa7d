//! A read-only explorer of a vtrain deployment over any RPC endpoint: jobs,
//! results and their artifacts, dispute games move by move, as a JSON API
//! under `/api/` with server-sent events for live updates
//! (`docs/explorer.md`). It signs nothing and holds no key.

pub mod chain;
pub mod checkpoints;
pub mod clocks;
pub mod game;
pub mod payouts;
pub mod progress;
pub mod server;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::DynProvider;
use eyre::WrapErr;
use vtrain_dispute::{Deployment, Market};

pub use chain::{Chain, Snapshot};

/// Serves the explorer of `deployment` through `provider` (read-only; the
/// node at `rpc_url`) on `listen` until the process ends, reading the chain
/// every `poll`. The deployment is checked against the chain first (its
/// contracts' code), and the first sync is done before the server answers,
/// so that its first page is whole.
pub async fn serve(
    provider: DynProvider,
    rpc_url: &str,
    deployment: &Deployment,
    listen: SocketAddr,
    poll: Duration,
) -> eyre::Result<()> {
    deployment
        .check(&provider)
        .await
        .wrap_err("the deployment manifest does not match the chain")?;
    let chain = Chain::new(Market::new(deployment, provider)?)?;
    chain
        .sync()
        .await
        .wrap_err_with(|| format!("cannot read the chain at {rpc_url}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .wrap_err_with(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(target: "explorer", url = %format!("http://{address}/"), block = chain.snapshot().block, "explorer up");
    tokio::spawn(Arc::clone(&chain).follow(poll));
    axum::serve(listener, server::router(chain))
        .await
        .wrap_err("the explorer's server stopped")
}
