//! Certificates replaced without a restart: on SIGHUP (see the `synod
//! server` command) the node reads its TLS files again and uses them for
//! every handshake after, peer and client alike. Connections already open
//! keep the session they negotiated. A file that cannot be read or that
//! rustls refuses leaves everything as it was: the reload is all or
//! nothing, so a half-copied renewal never takes a node off the network.

use std::sync::{Arc, RwLock};

use tokio_rustls::TlsAcceptor;

use super::{client_acceptor, ClientTlsFiles, PeerTls, TlsError, TlsFiles};

/// A value the listeners read at each handshake and a reload replaces.
#[derive(Debug)]
pub struct Reloadable<T>(Arc<RwLock<T>>);

impl<T> Clone for Reloadable<T> {
    fn clone(&self) -> Reloadable<T> {
        Reloadable(self.0.clone())
    }
}

impl<T: Clone> Reloadable<T> {
    /// Holds `value` until the first reload.
    pub fn new(value: T) -> Reloadable<T> {
        Reloadable(Arc::new(RwLock::new(value)))
    }

    /// The value in force now (cheap: the TLS configurations are shared).
    pub fn current(&self) -> T {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, value: T) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
    }
}

/// The node's TLS, as loaded from its files, and how to load it again.
#[derive(Clone, Default)]
pub struct TlsReloader {
    peer: Option<(TlsFiles, u64, Reloadable<PeerTls>)>,
    client: Option<(ClientTlsFiles, Reloadable<TlsAcceptor>)>,
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsReloader")
            .field("peer", &self.peer.as_ref().map(|(files, _, _)| files))
            .field("client", &self.client.as_ref().map(|(files, _)| files))
            .finish()
    }
}

/// What a reload replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// The peer certificate, key and CA.
    pub peer: bool,
    /// The client certificate and key.
    pub client: bool,
}

impl TlsReloader {
    /// Loads the node's TLS from `peer` (for cluster `cluster_id`) and
    /// `client`, each when configured.
    ///
    /// # Errors
    ///
    /// A file is missing, unreadable or refused by rustls.
    pub fn load(
        peer: Option<&TlsFiles>,
        client: Option<&ClientTlsFiles>,
        cluster_id: u64,
    ) -> Result<TlsReloader, TlsError> {
        let peer = match peer {
            Some(files) => Some((
                files.clone(),
                cluster_id,
                Reloadable::new(PeerTls::load(files, cluster_id)?),
            )),
            None => None,
        };
        let client = match client {
            Some(files) => Some((files.clone(), Reloadable::new(client_acceptor(files)?))),
            None => None,
        };
        Ok(TlsReloader { peer, client })
    }

    /// The peer TLS the transport reads at each handshake.
    pub fn peer(&self) -> Option<Reloadable<PeerTls>> {
        self.peer.as_ref().map(|(_, _, tls)| tls.clone())
    }

    /// The client TLS the client listener reads at each handshake.
    pub fn client(&self) -> Option<Reloadable<TlsAcceptor>> {
        self.client.as_ref().map(|(_, tls)| tls.clone())
    }

    /// Reads every file again and, when all of them load, puts them in
    /// force at once.
    ///
    /// # Errors
    ///
    /// The first file that does not load; nothing was replaced.
    pub fn reload(&self) -> Result<Reloaded, TlsError> {
        let peer = match &self.peer {
            Some((files, cluster_id, _)) => Some(PeerTls::load(files, *cluster_id)?),
            None => None,
        };
        let client = match &self.client {
            Some((files, _)) => Some(client_acceptor(files)?),
            None => None,
        };
        let reloaded = Reloaded {
            peer: peer.is_some(),
            client: client.is_some(),
        };
        if let (Some(peer), Some((_, _, slot))) = (peer, &self.peer) {
            slot.replace(peer);
        }
        if let (Some(client), Some((_, slot))) = (client, &self.client) {
            slot.replace(client);
        }
        Ok(reloaded)
    }
}
