//! `allowed.administrator.ips`: which client addresses may reach the admin API.

use crate::error::Error;
use std::fmt;
use std::net::IpAddr;

/// One IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A list of IP addresses and CIDR networks (IPv4 and IPv6).
///
/// An empty list allows nobody (legacy behaviour of an empty property). IPv4-mapped IPv6
/// client addresses (`::ffff:a.b.c.d`, seen on dual-stack listeners) are matched as IPv4.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpAllowlist {
    nets: Vec<IpNet>,
}

impl IpAllowlist {
    /// The legacy shipped default: every IPv4 and IPv6 address (`0.0.0.0/0,::/0`).
    pub fn everyone() -> Self {
        Self::parse("0.0.0.0/0,::/0").unwrap_or_default()
    }

    /// Loopback only (`127.0.0.0/8,::1`).
    pub fn loopback() -> Self {
        Self::parse("127.0.0.0/8,::1").unwrap_or_default()
    }

    /// Parses a comma-separated list of IPs and CIDRs; blanks between commas are ignored.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut nets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || Error::AllowlistEntry {
                entry: entry.to_owned(),
            };
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(bad)?,
                None => max,
            };
            nets.push(IpNet { addr, prefix });
        }
        Ok(Self { nets })
    }

    /// Whether `ip` is in one of the listed networks.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(ip))
    }
}

impl fmt::Display for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks() {
        let list = IpAllowlist::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8").unwrap();
        assert!(list.allows(ip("10.200.3.4")));
        assert!(list.allows(ip("192.168.1.7")));
        assert!(!list.allows(ip("192.168.1.8")));
        assert!(list.allows(ip("fd12::1")));
        assert!(!list.allows(ip("fe80::1")));
        assert!(
            list.allows(ip("::ffff:10.1.1.1")),
            "mapped IPv4 matches IPv4 nets"
        );
    }

    #[test]
    fn defaults() {
        assert!(IpAllowlist::everyone().allows(ip("8.8.8.8")));
        assert!(IpAllowlist::everyone().allows(ip("2001:db8::1")));
        assert!(IpAllowlist::loopback().allows(ip("127.0.0.1")));
        assert!(IpAllowlist::loopback().allows(ip("::1")));
        assert!(!IpAllowlist::loopback().allows(ip("10.0.0.1")));
        assert!(!IpAllowlist::parse("").unwrap().allows(ip("127.0.0.1")));
    }

    #[test]
    fn errors_name_the_entry() {
        for bad in ["10.0.0.0/33", "::/129", "nonsense", "1.2.3.4/", "1.2.3.4/x"] {
            let err = IpAllowlist::parse(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert!(matches!(err, Error::AllowlistEntry { entry } if entry == bad));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = IpAllowlist::parse(&text);
        }

        #[test]
        fn single_address_allows_itself(a in any::<u32>()) {
            let addr = std::net::Ipv4Addr::from(a);
            let list = IpAllowlist::parse(&addr.to_string()).unwrap();
            prop_assert!(list.allows(IpAddr::V4(addr)));
        }
    }
}
