//! Secret release interoperates with an independent JOSE implementation: Python's jwcrypto
//! (installed by the project's test command) decrypts what we encrypt, and we decrypt what it
//! encrypts to our key.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use shomei_core::x509::pem_encode;
use shomei_verifier::jwe::{self, EcJwk};

fn python(script: &str, stdin: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (the test command installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python/jwcrypto failed (the test command runs `pip install jwcrypto`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn jwcrypto_decrypts_ours_and_we_decrypt_jwcryptos() {
    let key = PrivateKey::generate(&ECDH_P256).unwrap();
    let point = key.compute_public_key().unwrap().as_ref().to_vec();
    let pkcs8: Pkcs8V1Der<'_> = key.as_der().unwrap();
    let pem = pem_encode("PRIVATE KEY", pkcs8.as_ref()).unwrap();

    // Ours → jwcrypto.
    let token = jwe::encrypt(&point, b"released to the attested TEE", Some("k1")).unwrap();
    let got = python(
        "import sys,json\nfrom jwcrypto import jwk, jwe\npem, tok = sys.stdin.read().split('\\n--\\n')\nk = jwk.JWK.from_pem(pem.encode())\nt = jwe.JWE()\nt.deserialize(tok.strip(), key=k)\nsys.stdout.write(t.payload.decode())",
        &format!("{pem}\n--\n{token}"),
    );
    assert_eq!(got, "released to the attested TEE");

    // jwcrypto → ours.
    let jwk = serde_json::to_string(&EcJwk::from_point(&point).unwrap()).unwrap();
    let token = python(
        "import sys,json\nfrom jwcrypto import jwk, jwe\nk = jwk.JWK(**json.loads(sys.stdin.read()))\nt = jwe.JWE(b'from jwcrypto', json.dumps({'alg':'ECDH-ES+A256KW','enc':'A256GCM'}))\nt.add_recipient(k)\nsys.stdout.write(t.serialize(compact=True))",
        &jwk,
    );
    assert_eq!(
        jwe::decrypt(&key, &token).unwrap().as_slice(),
        b"from jwcrypto"
    );
}
