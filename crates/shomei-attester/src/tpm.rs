//! A TPM 2.0 command client: PCR_Read, PCR_Extend, CreatePrimary (EK and AK templates in the
//! endorsement hierarchy), Quote, NV_ReadPublic/NV_Read (EK certificates), ActivateCredential
//! (with a PolicySecret session for the EK), FlushContext, Shutdown. Authorization is the empty
//! password (TPM_RS_PW), as on a freshly provisioned TPM.
//! Responses are parsed with the bounded `Reader`; transient objects are flushed by the caller
//! (swtpm without a resource manager has 3 slots).

use std::io::{Read, Write};
use std::net::TcpStream;

use shomei_core::{ParseError, Reader};
use shomei_tpm::HashAlg;

const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;
const RS_PW: u32 = 0x4000_0009;
/// TPM_RH_OWNER.
pub const RH_OWNER: u32 = 0x4000_0001;
/// TPM_RH_ENDORSEMENT.
pub const RH_ENDORSEMENT: u32 = 0x4000_000B;
/// Largest response accepted (TPM responses are at most a few KiB).
const MAX_RESPONSE: usize = 64 * 1024;
/// NV read chunk (at most TPM2_PT_NV_BUFFER_MAX on every TPM seen).
const NV_CHUNK: u16 = 512;
/// Attempts of a command the TPM asks to retry.
const MAX_RETRIES: usize = 50;

/// Errors talking to a TPM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("TPM response: {0}")]
    Parse(#[from] ParseError),
    /// The TPM returned an error code for a command.
    #[error("{command} failed with TPM_RC {code:#x}")]
    Rc { command: &'static str, code: u32 },
    #[error("{0}")]
    Usage(&'static str),
}

trait Transport {
    fn transact(&mut self, cmd: &[u8]) -> Result<Vec<u8>, TpmError>;
}

struct Socket(TcpStream);

impl Transport for Socket {
    fn transact(&mut self, cmd: &[u8]) -> Result<Vec<u8>, TpmError> {
        self.0.write_all(cmd)?;
        read_response(&mut self.0)
    }
}

struct Device(std::fs::File);

impl Transport for Device {
    fn transact(&mut self, cmd: &[u8]) -> Result<Vec<u8>, TpmError> {
        self.0.write_all(cmd)?;
        let mut buf = vec![0u8; MAX_RESPONSE];
        let n = self.0.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }
}

fn read_response(s: &mut impl Read) -> Result<Vec<u8>, TpmError> {
    let mut head = [0u8; 10];
    s.read_exact(&mut head)?;
    let mut r = Reader::new(&head);
    r.u16_be("tag")?;
    let size = usize::try_from(r.u32_be("responseSize")?).unwrap_or(usize::MAX);
    if !(10..=MAX_RESPONSE).contains(&size) {
        return Err(TpmError::Usage("response size out of range"));
    }
    let mut out = head.to_vec();
    out.resize(size, 0);
    s.read_exact(out.get_mut(10..).unwrap_or(&mut []))?;
    Ok(out)
}

/// A connection to a TPM.
pub struct Tpm {
    t: Box<dyn Transport + Send>,
}

/// An object created in the TPM: its handle and TPM2B_PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub handle: u32,
    /// TPM2B_PUBLIC as returned (parse with `shomei_tpm::Public::parse_tpm2b`).
    pub public: Vec<u8>,
    pub name: Vec<u8>,
}

/// AK templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkTemplate {
    /// RSA-2048, RSASSA-SHA256.
    Rsa,
    /// ECC P-256, ECDSA-SHA256.
    Ecc,
}

/// One authorization: the empty password, or a policy session whose policy needs no HMAC
/// (PolicySecret): empty hmac, session closed after the command.
fn auth_entry(handle: u32) -> Vec<u8> {
    let mut s = handle.to_be_bytes().to_vec();
    s.extend_from_slice(&0u16.to_be_bytes()); // nonceCaller
    s.push(0); // sessionAttributes
    s.extend_from_slice(&0u16.to_be_bytes()); // hmac
    s
}

fn command_auth(code: u32, handles: &[u32], auths: &[u32], params: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for h in handles {
        body.extend_from_slice(&h.to_be_bytes());
    }
    if !auths.is_empty() {
        let area: Vec<u8> = auths.iter().flat_map(|h| auth_entry(*h)).collect();
        body.extend_from_slice(&u32::try_from(area.len()).unwrap_or(0).to_be_bytes());
        body.extend_from_slice(&area);
    }
    body.extend_from_slice(params);
    let tag = if auths.is_empty() {
        ST_NO_SESSIONS
    } else {
        ST_SESSIONS
    };
    let size = u32::try_from(body.len().saturating_add(10)).unwrap_or(u32::MAX);
    let mut out = tag.to_be_bytes().to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(b.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(b);
    out
}

fn selection(bank: HashAlg, indices: &[u32]) -> Vec<u8> {
    let mut bits = [0u8; 3];
    for i in indices {
        if let Some(b) = bits.get_mut(usize::try_from(i / 8).unwrap_or(usize::MAX)) {
            *b |= 1u8 << (i % 8);
        }
    }
    let mut out = 1u32.to_be_bytes().to_vec();
    out.extend_from_slice(&bank.id().to_be_bytes());
    out.push(3);
    out.extend_from_slice(&bits);
    out
}

fn take2b<'a>(r: &mut Reader<'a>, f: &'static str) -> Result<&'a [u8], ParseError> {
    let n = usize::from(r.u16_be(f)?);
    r.take(n, f)
}

/// The default EK template (TCG EK Credential Profile, template L-1: RSA-2048, AES-128-CFB).
pub fn ek_template() -> Vec<u8> {
    const EK_POLICY: [u8; 32] = [
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7,
        0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14,
        0x69, 0xaa,
    ];
    let mut p = Vec::new();
    p.extend_from_slice(&0x0001u16.to_be_bytes());
    p.extend_from_slice(&0x000Bu16.to_be_bytes());
    p.extend_from_slice(&0x0003_00B2u32.to_be_bytes());
    p.extend_from_slice(&tpm2b(&EK_POLICY));
    p.extend_from_slice(&0x0006u16.to_be_bytes());
    p.extend_from_slice(&128u16.to_be_bytes());
    p.extend_from_slice(&0x0043u16.to_be_bytes());
    p.extend_from_slice(&0x0010u16.to_be_bytes());
    p.extend_from_slice(&2048u16.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&tpm2b(&[0u8; 256]));
    p
}

/// An AK template: restricted signing key, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth.
pub fn ak_template(kind: AkTemplate) -> Vec<u8> {
    let mut p = Vec::new();
    let ty: u16 = match kind {
        AkTemplate::Rsa => 0x0001,
        AkTemplate::Ecc => 0x0023,
    };
    p.extend_from_slice(&ty.to_be_bytes());
    p.extend_from_slice(&0x000Bu16.to_be_bytes());
    p.extend_from_slice(&0x0005_0072u32.to_be_bytes());
    p.extend_from_slice(&tpm2b(&[]));
    p.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
    match kind {
        AkTemplate::Rsa => {
            p.extend_from_slice(&0x0014u16.to_be_bytes());
            p.extend_from_slice(&0x000Bu16.to_be_bytes());
            p.extend_from_slice(&2048u16.to_be_bytes());
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&tpm2b(&[]));
        }
        AkTemplate::Ecc => {
            p.extend_from_slice(&0x0018u16.to_be_bytes());
            p.extend_from_slice(&0x000Bu16.to_be_bytes());
            p.extend_from_slice(&0x0003u16.to_be_bytes());
            p.extend_from_slice(&0x0010u16.to_be_bytes());
            p.extend_from_slice(&tpm2b(&[]));
            p.extend_from_slice(&tpm2b(&[]));
        }
    }
    p
}

impl Tpm {
    /// Connects to swtpm's command socket (`swtpm socket --server type=tcp,port=P`), which must
    /// have been started with `--flags not-need-init,startup-clear` (or be started already).
    pub fn connect_swtpm(host: &str, port: u16) -> Result<Self, TpmError> {
        let s = TcpStream::connect((host, port))?;
        Ok(Self {
            t: Box::new(Socket(s)),
        })
    }

    /// Opens a TPM character device (`/dev/tpmrm0`: the kernel's resource manager).
    pub fn open_device(path: &std::path::Path) -> Result<Self, TpmError> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Self {
            t: Box::new(Device(f)),
        })
    }

    /// Sends a command; returns the response after the 10-byte header, or the TPM's error.
    fn call(
        &mut self,
        name: &'static str,
        code: u32,
        handles: &[u32],
        sessions: bool,
        params: &[u8],
    ) -> Result<Vec<u8>, TpmError> {
        let auths: &[u32] = if sessions { &[RS_PW] } else { &[] };
        self.call_auth(name, code, handles, auths, params)
    }

    /// Sends a command with one authorization per entry of `auths` (TPM_RS_PW or a policy
    /// session handle).
    fn call_auth(
        &mut self,
        name: &'static str,
        code: u32,
        handles: &[u32],
        auths: &[u32],
        params: &[u8],
    ) -> Result<Vec<u8>, TpmError> {
        let cmd = command_auth(code, handles, auths, params);
        // TPM_RC_YIELDED, TPM_RC_TESTING and TPM_RC_RETRY ask for the same command again.
        for _ in 0..MAX_RETRIES {
            let resp = self.t.transact(&cmd)?;
            let mut r = Reader::new(&resp);
            r.u16_be("tag")?;
            r.u32_be("responseSize")?;
            match r.u32_be("responseCode")? {
                0 => return Ok(r.rest().to_vec()),
                0x908 | 0x90A | 0x922 => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                rc => {
                    return Err(TpmError::Rc {
                        command: name,
                        code: rc,
                    });
                }
            }
        }
        Err(TpmError::Rc {
            command: name,
            code: 0x922,
        })
    }

    /// TPM2_PCR_Read of up to 8 PCRs of one bank (ascending); more are read in several calls.
    pub fn pcr_read(
        &mut self,
        bank: HashAlg,
        indices: &[u32],
    ) -> Result<Vec<(u32, Vec<u8>)>, TpmError> {
        let mut sorted = indices.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Vec::new();
        for chunk in sorted.chunks(8) {
            let resp = self.call("PCR_Read", 0x17E, &[], false, &selection(bank, chunk))?;
            let mut r = Reader::new(&resp);
            r.u32_be("pcrUpdateCounter")?;
            let sel = shomei_tpm::PcrSelection::parse(&mut r)?;
            let got: Vec<u32> = sel.banks.iter().flat_map(|b| b.indices()).collect();
            let n = r.u32_be("TPML_DIGEST.count")?;
            if usize::try_from(n).ok() != Some(got.len()) || got.len() != chunk.len() {
                return Err(TpmError::Usage("PCR_Read returned a different selection"));
            }
            for i in got {
                out.push((i, take2b(&mut r, "TPM2B_DIGEST")?.to_vec()));
            }
        }
        Ok(out)
    }

    /// TPM2_PCR_Extend of `index` with one digest in `bank`.
    pub fn pcr_extend(&mut self, index: u32, bank: HashAlg, digest: &[u8]) -> Result<(), TpmError> {
        if digest.len() != bank.len() {
            return Err(TpmError::Usage("digest size differs from the bank's"));
        }
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&bank.id().to_be_bytes());
        p.extend_from_slice(digest);
        self.call("PCR_Extend", 0x182, &[index], true, &p)?;
        Ok(())
    }

    /// TPM2_CreatePrimary in the endorsement hierarchy from a TPMT_PUBLIC template.
    pub fn create_primary(&mut self, template: &[u8]) -> Result<Object, TpmError> {
        let mut p = Vec::new();
        p.extend_from_slice(&4u16.to_be_bytes()); // TPM2B_SENSITIVE_CREATE: empty auth, no data
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&tpm2b(template));
        p.extend_from_slice(&tpm2b(&[])); // outsideInfo
        p.extend_from_slice(&0u32.to_be_bytes()); // creationPCR
        let resp = self.call("CreatePrimary", 0x131, &[RH_ENDORSEMENT], true, &p)?;
        let mut r = Reader::new(&resp);
        let handle = r.u32_be("objectHandle")?;
        r.u32_be("parameterSize")?;
        let public = take2b(&mut r, "outPublic")?;
        let public2b = tpm2b(public);
        take2b(&mut r, "creationData")?;
        take2b(&mut r, "creationHash")?;
        r.u16_be("creationTicket.tag")?;
        r.u32_be("creationTicket.hierarchy")?;
        take2b(&mut r, "creationTicket.digest")?;
        let name = take2b(&mut r, "name")?.to_vec();
        Ok(Object {
            handle,
            public: public2b,
            name,
        })
    }

    /// Creates an AK as a primary key in the endorsement hierarchy (as GCE's vTPM does).
    pub fn create_ak(&mut self, kind: AkTemplate) -> Result<Object, TpmError> {
        self.create_primary(&ak_template(kind))
    }

    /// Creates the EK from the default RSA template (same key as the EK certificate's).
    pub fn create_ek(&mut self) -> Result<Object, TpmError> {
        self.create_primary(&ek_template())
    }

    /// TPM2_Quote with the key's own scheme: returns (TPMS_ATTEST, TPMT_SIGNATURE).
    pub fn quote(
        &mut self,
        ak: u32,
        nonce: &[u8],
        bank: HashAlg,
        indices: &[u32],
    ) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
        let mut p = tpm2b(nonce);
        p.extend_from_slice(&0x0010u16.to_be_bytes()); // inScheme NULL: the key's scheme
        p.extend_from_slice(&selection(bank, indices));
        let resp = self.call("Quote", 0x158, &[ak], true, &p)?;
        let mut r = Reader::new(&resp);
        let size = usize::try_from(r.u32_be("parameterSize")?).unwrap_or(usize::MAX);
        let mut params = r.sub(size, "parameters")?;
        let attest = take2b(&mut params, "quoted")?.to_vec();
        let sig = params.rest().to_vec();
        Ok((attest, sig))
    }

    /// Reads an NV index whole (e.g. the EK certificate at 0x01C00002), owner-authorized.
    pub fn nv_read(&mut self, index: u32) -> Result<Vec<u8>, TpmError> {
        let resp = self.call("NV_ReadPublic", 0x169, &[index], false, &[])?;
        let mut r = Reader::new(&resp);
        let pubarea = take2b(&mut r, "nvPublic")?;
        let mut pr = Reader::new(pubarea);
        pr.u32_be("nvIndex")?;
        pr.u16_be("nameAlg")?;
        pr.u32_be("attributes")?;
        take2b(&mut pr, "authPolicy")?;
        let size = pr.u16_be("dataSize")?;
        let mut out = Vec::new();
        let mut off: u16 = 0;
        while off < size {
            let n = NV_CHUNK.min(size.saturating_sub(off));
            let mut p = n.to_be_bytes().to_vec();
            p.extend_from_slice(&off.to_be_bytes());
            let resp = self.call("NV_Read", 0x14E, &[RH_OWNER, index], true, &p)?;
            let mut r = Reader::new(&resp);
            r.u32_be("parameterSize")?;
            let data = take2b(&mut r, "data")?;
            if data.is_empty() {
                return Err(TpmError::Usage("NV_Read returned no data"));
            }
            out.extend_from_slice(data);
            off = off.saturating_add(u16::try_from(data.len()).unwrap_or(u16::MAX));
        }
        Ok(out)
    }

    /// TPM2_ActivateCredential: recovers the secret of a credential made (e.g. by
    /// `shomei_tpm::credential::make_credential`) for the object `ak` and this TPM's EK `ek`.
    /// The EK's policy (PolicySecret(TPM_RH_ENDORSEMENT)) is satisfied in a fresh policy session.
    pub fn activate_credential(
        &mut self,
        ak: u32,
        ek: u32,
        cred: &shomei_tpm::credential::Credential,
    ) -> Result<Vec<u8>, TpmError> {
        const RH_NULL: u32 = 0x4000_0007;
        // StartAuthSession: unbound, unsalted policy session, SHA-256.
        let mut p = tpm2b(&[0x5A; 32]); // nonceCaller
        p.extend_from_slice(&tpm2b(&[])); // encryptedSalt
        p.push(0x01); // TPM_SE_POLICY
        p.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
        p.extend_from_slice(&0x000Bu16.to_be_bytes());
        let resp = self.call("StartAuthSession", 0x176, &[RH_NULL, RH_NULL], false, &p)?;
        let session = Reader::new(&resp).u32_be("sessionHandle")?;
        let result = self.activate_in(session, ak, ek, cred);
        // A successful ActivateCredential closes the session; flush it otherwise.
        if result.is_err() {
            let _ = self.flush(session);
        }
        result
    }

    fn activate_in(
        &mut self,
        session: u32,
        ak: u32,
        ek: u32,
        cred: &shomei_tpm::credential::Credential,
    ) -> Result<Vec<u8>, TpmError> {
        let mut p = tpm2b(&[]); // nonceTPM
        p.extend_from_slice(&tpm2b(&[])); // cpHashA
        p.extend_from_slice(&tpm2b(&[])); // policyRef
        p.extend_from_slice(&0i32.to_be_bytes()); // expiration
        self.call("PolicySecret", 0x151, &[RH_ENDORSEMENT, session], true, &p)?;
        let mut p = tpm2b(&cred.id_object);
        p.extend_from_slice(&tpm2b(&cred.encrypted_secret));
        let resp = self.call_auth(
            "ActivateCredential",
            0x147,
            &[ak, ek],
            &[RS_PW, session],
            &p,
        )?;
        let mut r = Reader::new(&resp);
        r.u32_be("parameterSize")?;
        Ok(take2b(&mut r, "certInfo")?.to_vec())
    }

    /// TPM2_FlushContext.
    pub fn flush(&mut self, handle: u32) -> Result<(), TpmError> {
        self.call("FlushContext", 0x165, &[], false, &handle.to_be_bytes())?;
        Ok(())
    }

    /// TPM2_Shutdown(CLEAR), before stopping a simulator (avoids DA lockout on restart).
    pub fn shutdown(&mut self) -> Result<(), TpmError> {
        self.call("Shutdown", 0x145, &[], false, &0u16.to_be_bytes())?;
        Ok(())
    }
}
