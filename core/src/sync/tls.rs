//! TLS trust for the terminal's HTTPS client: the Mozilla roots plus an optional
//! extra CA (a warehouse's own), or exactly one pinned certificate (what a setup
//! code carries). ureq's own TLS configuration offers neither a pin nor CA-plus-
//! roots, so the connection is made here (rustls) and handed to ureq as its
//! transport.

use super::http::ServerSettings;
use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter};

/// Parses a pinned fingerprint: 64 hex digits, `:` and spaces ignored.
pub fn parse_pin(text: &str) -> Result<[u8; 32]> {
    let bad = || Error::InvalidArgument(format!("pinned fingerprint {text:?} is not a SHA-256 in hex (64 digits)"));
    // Digit by digit, never by byte offset: the text comes from a scan and may hold
    // any character.
    let digits: Vec<u8> = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .map(|c| c.to_digit(16).map(|d| d as u8).ok_or_else(bad))
        .collect::<Result<_>>()?;
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (b, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *b = pair[0] << 4 | pair[1];
    }
    Ok(out)
}

/// SHA-256 of a DER certificate, as lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Verifier {
    roots: Arc<WebPkiServerVerifier>,
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            Some(pin) => {
                use sha2::Digest;
                if sha2::Sha256::digest(end_entity.as_ref()).as_slice() == pin {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(
                        "server certificate does not match the pinned fingerprint".into(),
                    ))
                }
            }
            None => self.roots.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

pub(crate) fn tls_config(settings: &ServerSettings) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = &settings.ca_pem {
        use rustls::pki_types::pem::PemObject;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::InvalidArgument(format!("custom CA: not a PEM certificate: {e}")))?;
            roots.add(cert).map_err(|e| Error::InvalidArgument(format!("custom CA: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::InvalidArgument("custom CA: no certificate in the PEM file".into()));
        }
    }
    let pin = settings.pin_sha256.as_deref().map(parse_pin).transpose()?;
    let roots = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::InvalidArgument(format!("trusted roots: {e}")))?;
    let verifier = Verifier {
        roots,
        pin,
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidArgument(format!("TLS: {e}")))?
        .dangerous() // a verifier of our own: roots + custom CA, or the pin
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Wraps HTTPS connections in rustls with our verifier.
#[derive(Debug)]
pub(crate) struct Tls(pub(crate) Arc<ClientConfig>);

impl<In: Transport> Connector<In> for Tls {
    type Out = Either<In, TlsTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.authority().map(|a| a.host()).unwrap_or_default();
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let name = ServerName::try_from(host.to_string()).map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut conn = ClientConnection::new(self.0.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The certificate the server at `settings.url` (https) presents, checked as a
/// sync checks it (roots and the extra CA, or the pin): the leaf's DER. What
/// `tsd doctor` reads the expiry from.
pub fn peer_certificate(settings: &ServerSettings) -> Result<Vec<u8>> {
    use std::net::ToSocketAddrs;
    let step = "reading the server's certificate";
    let network = |message: String| Error::Network {
        step,
        message,
        retry_after: None,
    };
    let uri: ureq::http::Uri = settings
        .url
        .parse()
        .map_err(|e| Error::InvalidArgument(format!("server URL {:?}: {e}", settings.url)))?;
    if uri.scheme_str() != Some("https") {
        return Err(Error::InvalidArgument(format!("{} is not an https:// URL", settings.url)));
    }
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.clone()).map_err(|e| Error::InvalidArgument(format!("server name {host:?}: {e}")))?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| network(format!("{host}:{port}: {e}")))?
        .next()
        .ok_or_else(|| network(format!("{host}:{port}: no address")))?;
    let mut sock = std::net::TcpStream::connect_timeout(&addr, settings.timeout).map_err(|e| network(format!("{addr}: {e}")))?;
    let _ = sock.set_read_timeout(Some(settings.timeout));
    let _ = sock.set_write_timeout(Some(settings.timeout));
    let mut conn = ClientConnection::new(tls_config(settings)?, name).map_err(|e| Error::Tls {
        step,
        message: e.to_string(),
    })?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| Error::Tls {
            step,
            message: e.to_string(),
        })?;
    }
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec())
        .ok_or_else(|| Error::Tls {
            step,
            message: "the server presented no certificate".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setup code's pin is scanned text: any character must be refused, not sliced.
    #[test]
    fn a_pin_with_non_ascii_characters_is_refused_not_a_panic() {
        for bad in [
            "é".repeat(32),
            format!("{}é", "a".repeat(63)),
            "ж".repeat(64),
            format!("{}\u{1d}", "0".repeat(63)),
            String::new(),
        ] {
            assert!(matches!(parse_pin(&bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        let code = format!("tsd://setup?u=https%3A%2F%2Fa&e=x&p={}", "%C3%A9".repeat(32));
        assert!(crate::setup::SetupCode::parse(&code).is_err());
    }

    #[test]
    fn pins_parse_with_or_without_colons() {
        let hex = "AB".repeat(32);
        assert_eq!(parse_pin(&hex).unwrap(), [0xab; 32]);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }
}
