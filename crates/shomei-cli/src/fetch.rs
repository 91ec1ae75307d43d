//! `shomei snp fetch …`: AMD KDS collateral into the cache (and optionally a file).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use shomei_core::UnixTime;
use shomei_kds::{KdsClient, KdsConfig, Mode, VcekRequest};
use shomei_snp::{Product, SigningKey};

use crate::{Outcome, input};

/// Where and how to reach the KDS (shared by `snp fetch` and `snp verify --fetch`).
#[derive(Args, Clone)]
pub struct KdsArgs {
    /// KDS base URL (a mirror or a local KDS-compatible server).
    #[arg(long, default_value = shomei_snp::kds::KDS_BASE)]
    pub kds_url: String,
    /// Cache directory (default: $XDG_CACHE_HOME/shomei/kds or ~/.cache/shomei/kds).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Use the cache only; never touch the network.
    #[arg(long)]
    pub offline: bool,
}

impl KdsArgs {
    pub fn client(&self, mode: Option<Mode>) -> Result<KdsClient> {
        let cache = self.cache.clone().or_else(KdsConfig::default_cache_dir);
        let mode = mode.unwrap_or(if self.offline {
            Mode::Offline
        } else {
            Mode::Online
        });
        KdsClient::new(
            KdsConfig::default()
                .with_base_url(self.kds_url.clone())
                .with_cache_dir(cache)
                .with_mode(mode),
        )
        .context("KDS client")
    }
}

#[derive(Subcommand)]
pub enum FetchCommand {
    /// The VCEK for a report's chip and REPORTED_TCB.
    Vcek {
        report: PathBuf,
        /// Product, when the report does not name it (v2).
        #[arg(long)]
        product: Option<Product>,
        #[command(flatten)]
        kds: KdsArgs,
        /// Also write the certificate here.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The ASK (or ASVK) and ARK of a product, PEM.
    CertChain {
        #[arg(long)]
        product: Product,
        #[arg(long, value_enum, default_value = "vcek")]
        key: KeyKind,
        #[command(flatten)]
        kds: KdsArgs,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The product's CRL (signed by the ARK), DER.
    Crl {
        #[arg(long)]
        product: Product,
        #[arg(long, value_enum, default_value = "vcek")]
        key: KeyKind,
        #[command(flatten)]
        kds: KdsArgs,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyKind {
    Vcek,
    Vlek,
}

impl From<KeyKind> for SigningKey {
    fn from(k: KeyKind) -> Self {
        match k {
            KeyKind::Vcek => SigningKey::Vcek,
            KeyKind::Vlek => SigningKey::Vlek,
        }
    }
}

fn write_out(path: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    if let Some(p) = path {
        std::fs::write(p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

fn show_cached(p: Option<PathBuf>) {
    if let Some(p) = p {
        println!("cached {}", p.display());
    }
}

pub fn run(cmd: FetchCommand) -> Result<Outcome> {
    match cmd {
        FetchCommand::Vcek {
            report,
            product,
            kds,
            output,
        } => {
            let bytes = input::report(&report)?;
            let req = VcekRequest::from_report(&bytes, product)
                .with_context(|| format!("{}", report.display()))?;
            let client = kds.client(None)?;
            println!("{}", req.url(&kds.kds_url));
            let der = client.vcek(req.product, &req.chip_id, &req.tcb)?;
            show_cached(client.vcek_cache_file(req.product, &req.chip_id, &req.tcb));
            write_out(&output, &der)?;
        }
        FetchCommand::CertChain {
            product,
            key,
            kds,
            output,
        } => {
            let client = kds.client(None)?;
            let chain = client.cert_chain(product, key.into())?;
            show_cached(client.cert_chain_cache_file(product, key.into())?);
            let mut pem = String::new();
            for c in &chain {
                pem.push_str(&pem_encode("CERTIFICATE", c.der())?);
            }
            write_out(&output, pem.as_bytes())?;
        }
        FetchCommand::Crl {
            product,
            key,
            kds,
            output,
        } => {
            let client = kds.client(None)?;
            let crl = client.crl(product, key.into(), UnixTime::now())?;
            show_cached(client.crl_cache_file(product, key.into())?);
            write_out(&output, crl.der())?;
        }
    }
    Ok(Outcome::Ok)
}

fn pem_encode(label: &str, der: &[u8]) -> Result<String> {
    shomei_core::x509::pem_encode(label, der).context("PEM encoding")
}

/// For `snp verify`: the VCEK for `report` from the KDS cache, or the KDS itself with `online`.
pub fn vcek_for_verify(
    kds: &KdsArgs,
    report: &[u8],
    product: Option<Product>,
    online: bool,
) -> Result<Vec<u8>> {
    let req = match VcekRequest::from_report(report, product) {
        Ok(r) => r,
        Err(shomei_kds::KdsError::UnknownProduct) => bail!(
            "no VCEK supplied: pass --vcek/--certs, or give --product so the VCEK can be looked up \
             in the KDS cache (`shomei snp fetch vcek REPORT --product P`)"
        ),
        Err(e) => return Err(e.into()),
    };
    let client = kds.client(Some(if online && !kds.offline {
        Mode::Online
    } else {
        Mode::Offline
    }))?;
    match client.vcek(req.product, &req.chip_id, &req.tcb) {
        Ok(der) => Ok(der),
        Err(shomei_kds::KdsError::NotCached { path }) => bail!(
            "no VCEK supplied and none cached at {}: pass --vcek/--certs, run `shomei snp fetch vcek REPORT`, or add --fetch",
            path.display()
        ),
        Err(e) => Err(e.into()),
    }
}
