//! The HTTP probe: one request per attempt over a fresh connection (HTTP/1.1, or HTTPS
//! without certificate verification).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

use crate::probe::HttpProbe;

/// Limit for one attempt (connect, request, body).
const ATTEMPT_LIMIT: Duration = Duration::from_secs(2);

/// One attempt: `Ok` if the answer passes the probe, else what was seen.
pub(super) async fn check(addr: SocketAddr, host: &str, probe: &HttpProbe) -> Result<(), String> {
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        if probe.tls {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
            let tls = tls_connector()
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
            request(tls, addr, host, probe).await
        } else {
            request(tcp, addr, host, probe).await
        }
    };
    let (status, body) = tokio::time::timeout(ATTEMPT_LIMIT, attempt)
        .await
        .map_err(|_| format!("{addr}: no answer within {ATTEMPT_LIMIT:?}"))??;
    if probe.accepts(status, &body) {
        Ok(())
    } else {
        let snippet: String = String::from_utf8_lossy(&body).chars().take(120).collect();
        Err(format!(
            "{} {} answered {status}: {snippet}",
            probe.method, probe.path
        ))
    }
}

async fn request<S>(
    io: S,
    addr: SocketAddr,
    host: &str,
    probe: &HttpProbe,
) -> Result<(u16, Vec<u8>), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    let driver = tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(probe.method.as_str())
        .uri(probe.path.as_str());
    if !probe
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(hyper::header::HOST, format!("{host}:{}", addr.port()));
    }
    for (name, value) in &probe.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("invalid request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{} {}: {e}", probe.method, probe.path))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok((status, body.to_vec()))
    }
    .await;
    driver.abort();
    result
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Readiness only: any certificate is accepted, signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
