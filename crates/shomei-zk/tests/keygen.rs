//! The proving key's verifying key is the one a verifier derives on its own.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use shomei_zk::prove::{K, ProvingKeys, Srs, VerifyingKeys};

/// `ProvingKeys::generate` lays the circuit out once for both keys (halo2's `keygen_pk2`); a
/// verifier derives its key alone (`keygen_vk`). Proofs verify only if the two agree.
#[test]
#[ignore = "two key generations at k = 20: minutes in release; cargo test -p shomei-zk --release --test keygen -- --ignored --nocapture"]
fn proving_key_carries_the_verifiers_own_verifying_key() {
    let srs = Srs::insecure_local(K, [3; 32]);
    let t = Instant::now();
    let vk = VerifyingKeys::generate(srs.clone()).unwrap().vk_bytes();
    eprintln!("VerifyingKeys::generate: {:?}", t.elapsed());
    let t = Instant::now();
    let pk = ProvingKeys::generate(srs).unwrap();
    eprintln!("ProvingKeys::generate: {:?}", t.elapsed());
    assert!(pk.verifying_keys().vk_bytes() == vk);
}
