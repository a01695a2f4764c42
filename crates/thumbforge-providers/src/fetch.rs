//! SSRF-safe fetching of user-given image URLs (Flokan's
//! `reference_image_url` and `youtube_references`).
//!
//! - `https` only, unless `allow_http` (tests);
//! - every address the host resolves to must be public: loopback, private,
//!   link-local (cloud metadata at 169.254.169.254 included), CGNAT,
//!   multicast, reserved and the like are refused, unless an operator
//!   exempted a CIDR; the connection goes to the address that was checked
//!   (no second lookup an attacker's DNS could answer differently);
//! - redirects are followed by hand, up to a limit, each hop checked again;
//! - a size cap while streaming, a total timeout, `Content-Type` must be an
//!   image, and the bytes must really decode within decode limits.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use image::DynamicImage;
use ipnet::IpNet;
use reqwest::{Url, redirect};

use crate::decode::{DecodeLimits, decode_limited};

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    pub allow_http: bool,
    pub allow_cidrs: Vec<IpNet>,
    pub max_bytes: usize,
    pub timeout: Duration,
    pub max_redirects: usize,
    pub limits: DecodeLimits,
}

/// Why a reference was not used. The text is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("only https URLs are fetched")]
    Scheme,
    #[error("the URL is not valid")]
    BadUrl,
    #[error("the host could not be resolved")]
    Resolve,
    #[error("the address {0} is not public")]
    Forbidden(IpAddr),
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the content type `{0}` is not an image")]
    ContentType(String),
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the download did not finish within {0} seconds")]
    Timeout(u64),
    #[error("the download failed")]
    Transport,
    #[error("{0}")]
    Image(String),
}

/// A fetched and decoded reference.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub image: DynamicImage,
    pub bytes: Vec<u8>,
    pub content_type: String,
}

impl FetchPolicy {
    /// Whether `ip` may be connected to.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_cidrs.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Fetches and decodes the image at `url`.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let deadline = Instant::now() + self.timeout;
        match tokio::time::timeout(self.timeout, self.fetch_inner(url, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.timeout.as_secs())),
        }
    }

    async fn fetch_inner(&self, url: &str, deadline: Instant) -> Result<Fetched, FetchError> {
        let mut url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        let mut redirects = 0;
        loop {
            let addr = self.vet(&url).await?;
            let host = url.host_str().ok_or(FetchError::BadUrl)?.to_owned();
            let client = reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .no_proxy()
                .resolve(&host, addr)
                .timeout(deadline.saturating_duration_since(Instant::now()))
                .build()
                .map_err(|_| FetchError::Transport)?;
            let response = client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "image/png, image/jpeg, image/webp")
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        FetchError::Timeout(self.timeout.as_secs())
                    } else {
                        FetchError::Transport
                    }
                })?;
            let status = response.status();
            if status.is_redirection() {
                redirects += 1;
                if redirects > self.max_redirects {
                    return Err(FetchError::TooManyRedirects);
                }
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                url = url.join(location).map_err(|_| FetchError::BadUrl)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !matches!(
                content_type.as_str(),
                "image/png" | "image/jpeg" | "image/jpg" | "image/webp"
            ) {
                return Err(FetchError::ContentType(content_type));
            }
            let bytes = self.read_capped(response).await?;
            let limits = self.limits;
            let decoded = {
                let bytes = bytes.clone();
                tokio::task::spawn_blocking(move || decode_limited(&bytes, &limits))
                    .await
                    .map_err(|_| FetchError::Image("decoding failed".to_owned()))?
            };
            let (image, _) = decoded.map_err(FetchError::Image)?;
            return Ok(Fetched {
                image,
                bytes,
                content_type,
            });
        }
    }

    /// POSTs `body` to a user-given URL (webhooks) under the same address
    /// rules, following no redirect. Returns the HTTP status.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<u16, FetchError> {
        let url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        let addr = self.vet(&url).await?;
        let host = url.host_str().ok_or(FetchError::BadUrl)?.to_owned();
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .resolve(&host, addr)
            .timeout(timeout)
            .build()
            .map_err(|_| FetchError::Transport)?;
        let mut request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                FetchError::Timeout(timeout.as_secs())
            } else {
                FetchError::Transport
            }
        })?;
        Ok(response.status().as_u16())
    }

    /// Checks the scheme and every address of the host; returns the one to
    /// connect to.
    async fn vet(&self, url: &Url) -> Result<SocketAddr, FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(FetchError::Scheme),
        }
        let port = url.port_or_known_default().ok_or(FetchError::BadUrl)?;
        let addrs: Vec<SocketAddr> = match url.host().ok_or(FetchError::BadUrl)? {
            url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            url::Host::Domain(host) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| FetchError::Resolve)?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(FetchError::Resolve);
        }
        // Every address must pass: a host with one private address among
        // public ones could be steered to it.
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(FetchError::Forbidden(bad.ip()));
        }
        Ok(addrs[0])
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                FetchError::Timeout(self.timeout.as_secs())
            } else {
                FetchError::Transport
            }
        })? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Whether an address is on the public internet.
///
/// IPv6 is judged by allowlist: only global unicast (2000::/3) can be
/// public, less the special-purpose blocks inside it. A form that carries an
/// IPv4 address (mapped, NAT64's well-known prefix, 6to4) is judged by that
/// address; deprecated or local-use forms (IPv4-compatible ::/96, site-local,
/// NAT64 local-use, Teredo) are refused outright.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = v6.segments();
    // The IPv4 address two segments carry.
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64's well-known prefix 64:ff9b::/96 (RFC 6052).
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        return is_public_v4(v4(s[6], s[7]));
    }
    // 6to4, 2002:V4ADDR::/48 (RFC 3056).
    if s[0] == 0x2002 {
        return is_public_v4(v4(s[1], s[2]));
    }
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    // IETF protocol assignments 2001::/23 (Teredo 2001::/32, benchmarking
    // 2001:2::/48, ORCHID, AMT, …) and documentation 2001:db8::/32.
    let special_2001 = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    let documentation = s[0] == 0x3fff && s[1] < 0x1000; // 3fff::/20
    let srv6 = s[0] == 0x5f00; // SRv6 SIDs 5f00::/16
    global_unicast && !special_2001 && !documentation && !srv6
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10 (Alibaba metadata)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240 // reserved
        || ip == Ipv4Addr::new(168, 63, 129, 16)) // Azure host endpoint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "168.63.129.16",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "ff02::1",
            // Transition forms that embed a non-public IPv4.
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8", // IPv4-compatible is deprecated whatever it holds
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c058:6301::1", // 6to4 relay anycast
            "64:ff9b:1::7f00:1", // NAT64 local-use
            "64:ff9b:1::808:808",
            // Special-use and deprecated ranges.
            "fec0::1",
            "2001:db8::1",
            "3fff::1",
            "2001::1", // Teredo
            "2001:2::1",
            "2001:10::1",
            "5f00::1",
            "100::1",
            "4000::1",
            "::ffff:0:7f00:1",
        ] {
            let ip: IpAddr = bad.parse().expect("ip");
            assert!(!is_public(ip), "{bad} must be refused");
        }
        for good in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "142.250.74.110",
            "2a00:1450:4001:82b::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            let ip: IpAddr = good.parse().expect("ip");
            assert!(is_public(ip), "{good} is public");
        }
    }

    #[test]
    fn exempted_cidrs_are_permitted() {
        let policy = FetchPolicy {
            allow_http: true,
            allow_cidrs: vec!["127.0.0.2/32".parse().expect("cidr")],
            max_bytes: 1,
            timeout: Duration::from_secs(1),
            max_redirects: 1,
            limits: crate::decode::OUTPUT_LIMITS,
        };
        assert!(policy.permits("127.0.0.2".parse().expect("ip")));
        assert!(!policy.permits("127.0.0.1".parse().expect("ip")));
    }
}
