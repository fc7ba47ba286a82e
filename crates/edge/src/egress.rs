//! Where the edge may connect for custom origins: never to loopback, private, link-local, unique-local,
//! unspecified, multicast, documentation or otherwise reserved addresses, nor to this host, unless the operator
//! allowed the network by name (`[edge] origin_allow_networks`); and never to one of the deployment's own
//! listeners (the API endpoint, the edge's own ports), whatever is allowed.
//!
//! The check runs in the connector the origin client uses ([`GuardedConnector`]), on every new connection: it
//! resolves the name itself, checks each address before connecting to exactly that address (so a DNS answer that
//! changes between two connections, or between a check and a connect, is checked again), and checks the
//! connected socket once more (a connection whose local and peer addresses are equal reached this host). S3
//! origins do not come here: they are this deployment's S3 on the API endpoint, reached by the API client.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use tokio::net::TcpStream;

/// Whether `ip` is an address outbound origin connections must not reach unless allowed: anything but global
/// unicast. IPv4-mapped IPv6 addresses are judged by their IPv4 address. Pure.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0/8
        || a == 10
        || (a == 100 && b & 0xc0 == 64) // CGNAT shared space, 100.64.0.0/10
        || a == 127
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && b & 0xf0 == 16)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && b & 0xfe == 18) // benchmarking, 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 =
        || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    ip.is_unspecified()
        || ip.is_loopback()
        || s[..6] == [0; 6] // IPv4-compatible, ::/96 (deprecated)
        || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && internal_v4(embedded_v4())) // NAT64 of an internal address
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64, 64:ff9b:1::/48
        || (s[..4] == [0x100, 0, 0, 0]) // discard, 100::/64
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments (Teredo, ORCHID…), 2001::/23
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x2002 // 6to4 (reaches IPv4 hosts through relays)
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation, 3fff::/20
        || s[0] == 0x5f00 // SRv6 SIDs
        || s[0] & 0xfe00 == 0xfc00 // unique local
        || s[0] & 0xffc0 == 0xfe80 // link-local
        || s[0] & 0xffc0 == 0xfec0 // site-local (deprecated)
        || s[0] & 0xff00 == 0xff00 // multicast
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} is one of this deployment's own listeners")]
    OwnListener(SocketAddr),
    #[error("{0} is an internal address (loopback, private, link-local, reserved…) not allowed for origins")]
    Internal(IpAddr),
    #[error("{0} is this host's own address, not allowed for origins")]
    OwnAddress(IpAddr),
}

/// The outbound policy: the networks the operator allowed and the deployment's own listeners.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allow: Vec<IpNet>,
    own: Vec<SocketAddr>,
}

impl EgressPolicy {
    pub fn new(allow: Vec<IpNet>, own: Vec<SocketAddr>) -> EgressPolicy {
        EgressPolicy { allow, own }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Whether `addr` is one of the own listeners: the same address and port, or (for a listener on an
    /// unspecified address, which takes every local address) the port on a loopback or unspecified address.
    fn own_listener(&self, addr: SocketAddr, this_host: bool) -> bool {
        let ip = addr.ip().to_canonical();
        self.own.iter().any(|l| {
            l.port() == addr.port()
                && (l.ip().to_canonical() == ip
                    || (l.ip().is_unspecified()
                        && (this_host || ip.is_loopback() || ip.is_unspecified())))
        })
    }

    /// Checks an address before connecting to it.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refused> {
        if self.own_listener(addr, false) {
            return Err(Refused::OwnListener(addr));
        }
        let ip = addr.ip().to_canonical();
        if is_internal(ip) && !self.allowed(ip) {
            return Err(Refused::Internal(ip));
        }
        Ok(())
    }

    /// Checks a connected socket: equal local and peer addresses mean the connection reached this host (a
    /// public address of its own), which counts as the deployment's own address.
    pub fn check_connected(&self, local: SocketAddr, peer: SocketAddr) -> Result<(), Refused> {
        let this_host = local.ip().to_canonical() == peer.ip().to_canonical();
        if self.own_listener(peer, this_host) {
            return Err(Refused::OwnListener(peer));
        }
        if this_host && !self.allowed(peer.ip()) {
            return Err(Refused::OwnAddress(peer.ip().to_canonical()));
        }
        Ok(())
    }
}

/// A name resolver: `(host, port)` to the addresses to try.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system resolver (`getaddrinfo`, on tokio's blocking pool), asked afresh for every connection.
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    })
}

/// The connector of the origin client: resolves, checks every address against the [`EgressPolicy`], connects
/// only to allowed ones, and checks the connected socket.
#[derive(Clone)]
pub struct GuardedConnector {
    policy: Arc<EgressPolicy>,
    resolver: Resolver,
    connect_timeout: Duration,
}

impl std::fmt::Debug for GuardedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedConnector")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GuardedConnector {
    pub fn new(
        policy: Arc<EgressPolicy>,
        resolver: Resolver,
        connect_timeout: Duration,
    ) -> GuardedConnector {
        GuardedConnector {
            policy,
            resolver,
            connect_timeout,
        }
    }

    async fn connect(self, uri: Uri) -> io::Result<TokioIo<TcpStream>> {
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host in the URI"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let addrs = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (self.resolver)(host.to_owned(), port).await?,
        };
        let mut refused = Vec::new();
        let mut last_error = None;
        for addr in addrs {
            if let Err(r) = self.policy.check(addr) {
                refused.push(r.to_string());
                continue;
            }
            let stream =
                match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        last_error = Some(e);
                        continue;
                    }
                    Err(_) => {
                        last_error = Some(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "connecting to {addr} took longer than {:?}",
                                self.connect_timeout
                            ),
                        ));
                        continue;
                    }
                };
            if let Err(r) = self
                .policy
                .check_connected(stream.local_addr()?, stream.peer_addr()?)
            {
                refused.push(r.to_string());
                continue;
            }
            let _ = stream.set_nodelay(true);
            return Ok(TokioIo::new(stream));
        }
        Err(match last_error {
            Some(e) if refused.is_empty() => e,
            _ if !refused.is_empty() => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("origin {host} refused: {}", refused.join("; ")),
            ),
            _ => io::Error::new(
                io::ErrorKind::NotFound,
                format!("origin {host} resolves to no address"),
            ),
        })
    }
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn policy_rules() {
        let api: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let edge: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let p = EgressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()], vec![api, edge]);
        assert!(p.check("127.0.0.1:3000".parse().unwrap()).is_ok());
        assert!(p.check("[::ffff:127.0.0.1]:3000".parse().unwrap()).is_ok());
        assert_eq!(
            p.check(api),
            Err(Refused::OwnListener(api)),
            "allowed networks never open the API"
        );
        assert!(p.check("127.0.0.1:8080".parse().unwrap()).is_err());
        assert!(p.check("[::1]:3000".parse().unwrap()).is_err());
        assert!(p.check("10.0.0.1:80".parse().unwrap()).is_err());
        assert!(p.check("93.184.216.34:8080".parse().unwrap()).is_ok());
        // A connection to this host's own public address: its own listener on an unspecified bind, or any port
        // when the address is not allowed.
        let own: SocketAddr = "93.184.216.34:8080".parse().unwrap();
        assert!(p.check_connected(own, own).is_err());
        let other: SocketAddr = "93.184.216.34:3000".parse().unwrap();
        assert_eq!(
            p.check_connected(other, other),
            Err(Refused::OwnAddress(other.ip()))
        );
        let remote: SocketAddr = "93.184.216.35:3000".parse().unwrap();
        assert!(p.check_connected(other, remote).is_ok());
    }

    fn fixed(answers: Vec<Vec<SocketAddr>>) -> (Resolver, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let resolver: Resolver = Arc::new(move |_, _| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let answer = answers[n.min(answers.len() - 1)].clone();
            Box::pin(async move { Ok(answer) })
        });
        (resolver, calls)
    }

    #[tokio::test]
    async fn every_connection_is_resolved_and_checked_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let elsewhere = SocketAddr::new(ip("127.0.0.2"), target.port());
        // The first answer is allowed; the name then "rebinds" to a refused address.
        let (resolver, calls) = fixed(vec![vec![target], vec![elsewhere]]);
        let policy = Arc::new(EgressPolicy::new(
            vec!["127.0.0.1/32".parse().unwrap()],
            vec![],
        ));
        let connector = GuardedConnector::new(policy, resolver, Duration::from_secs(5));
        let uri: Uri = format!("http://origin.example:{}/", target.port())
            .parse()
            .unwrap();
        assert!(connector.clone().connect(uri.clone()).await.is_ok());
        let err = connector.clone().connect(uri).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refused_addresses_are_never_connected_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let (resolver, _) = fixed(vec![vec![target]]);
        let uri: Uri = format!("http://origin.example:{}/", target.port())
            .parse()
            .unwrap();
        // Not allowed at all.
        let connector = GuardedConnector::new(
            Arc::new(EgressPolicy::default()),
            resolver.clone(),
            Duration::from_secs(5),
        );
        let err = connector.connect(uri.clone()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        // Allowed network, but the deployment's own listener.
        let connector = GuardedConnector::new(
            Arc::new(EgressPolicy::new(
                vec!["127.0.0.0/8".parse().unwrap()],
                vec![target],
            )),
            resolver,
            Duration::from_secs(5),
        );
        assert!(connector.connect(uri).await.is_err());
        // IP literals skip the resolver but not the policy.
        let literal: Uri = format!("http://{target}/").parse().unwrap();
        let connector = GuardedConnector::new(
            Arc::new(EgressPolicy::default()),
            system_resolver(),
            Duration::from_secs(5),
        );
        assert!(connector.connect(literal).await.is_err());
        // Nothing reached the listener: the first connection it accepts is a marker made now.
        let marker = TcpStream::connect(target).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(
            peer,
            marker.local_addr().unwrap(),
            "a refused address was connected to"
        );
    }
}
