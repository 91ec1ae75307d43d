//! Attestation results: an EAR signed by the verifier verifies for a relying party (the passport
//! model) at a time inside its validity, with the appraisal intact; anything else is refused.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use shomei_core::UnixTime;
use shomei_verifier::ear::EAR_PROFILE;
use shomei_verifier::{
    Alg, Anchors, Appraisal, Ear, EarRejection, EarSigner, EarVerifier, Error, Policies, Tier,
    TrustClaim,
};

fn signer(alg: Alg) -> EarSigner {
    EarSigner::from_pkcs8(alg, &EarSigner::generate_pkcs8(alg).unwrap()).unwrap()
}

fn affirming() -> Appraisal {
    run(
        &milan_v2(),
        t(MILAN_AT),
        &Policies::default(),
        &Anchors::default(),
        None,
    )
}

const ISSUED: UnixTime = UnixTime::from_secs(1_748_736_000); // 2025-06-01

fn token(s: &EarSigner, a: &Appraisal) -> String {
    let ear = Ear::new(ISSUED, 300, Some(b"the nonce"), [("snp", a)]).unwrap();
    s.sign(&ear).unwrap()
}

fn refused(v: &EarVerifier, token: &str, at: UnixTime) -> EarRejection {
    match v.verify(token, at) {
        Err(Error::Ear(r)) => r,
        Err(e) => panic!("expected a refusal, got the error {e}"),
        Ok(_) => panic!("expected a refusal, the token verified"),
    }
}

fn at(secs_after_issue: i64) -> UnixTime {
    UnixTime::from_secs(ISSUED.secs() + secs_after_issue)
}

#[test]
fn an_ear_round_trips_with_its_appraisal() {
    for alg in [Alg::Es256, Alg::Es384] {
        let s = signer(alg);
        let a = affirming();
        let jwt = token(&s, &a);
        let v = s.verifier().unwrap();
        let got = v.verify(&jwt, at(10)).unwrap();
        assert!(got.is_affirming());
        let ear = got.ear();
        assert_eq!(ear.profile, EAR_PROFILE);
        assert_eq!(ear.iat, ISSUED.secs());
        assert_eq!(ear.exp, Some(ISSUED.secs() + 300));
        assert_eq!(ear.nonce.as_deref(), Some("dGhlIG5vbmNl"));
        let sub = &ear.submods["snp"];
        assert_eq!(sub.status, Tier::Affirming);
        assert_eq!(&sub.trust_vector, a.trust_vector());
        assert_eq!(sub.policy_id, "policy:shomei/default");
        assert!(sub.shomei.reasons.is_empty());
        // The appraised claims travel in the family's JSON shape.
        let claims = sub.claims.as_ref().unwrap();
        assert_eq!(claims["report"]["version"], 2);
        assert_eq!(claims["signer"]["product"], "milan");
    }
}

#[test]
fn the_wire_form_uses_the_ear_names() {
    let s = signer(Alg::Es256);
    let jwt = token(&s, &affirming());
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], serde_json::json!(s.jwk().kid));
    let body: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
    assert_eq!(body["eat_profile"], "tag:github.com,2023:veraison/ear");
    assert!(body["ear.verifier-id"]["build"].is_string());
    let sub = &body["submods"]["snp"];
    assert_eq!(sub["ear.status"], "affirming");
    assert_eq!(sub["ear.trustworthiness-vector"]["instance-identity"], 2);
    assert_eq!(sub["ear.trustworthiness-vector"]["hardware"], 2);
    assert!(
        sub["ear.trustworthiness-vector"]
            .get("executables")
            .is_none()
    );
    assert_eq!(sub["ear.appraisal-policy-id"], "policy:shomei/default");
    assert!(sub["ear.veraison.annotated-evidence"]["report"]["measurement"].is_string());
    assert_eq!(sub["shomei"]["family"], "snp");
    // ES256 signatures are r ‖ s, 64 bytes.
    assert_eq!(Base64UrlUnpadded::decode_vec(parts[2]).unwrap().len(), 64);
}

#[test]
fn a_rejected_evidence_result_carries_its_reasons_and_no_claims() {
    let mut e = milan_v2();
    if let shomei_verifier::Evidence::Snp(s) = &mut e {
        s.report[0x90] ^= 1;
    }
    let a = run(
        &e,
        t(MILAN_AT),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    let s = signer(Alg::Es256);
    let got = s.verifier().unwrap().verify(&token(&s, &a), at(1)).unwrap();
    assert_eq!(got.status(), Tier::Contraindicated);
    let sub = &got.ear().submods["snp"];
    assert!(sub.claims.is_none());
    assert_eq!(sub.trust_vector.get(TrustClaim::InstanceIdentity), 99);
    assert_eq!(sub.shomei.reasons.len(), 1);
    assert_eq!(sub.shomei.reasons[0].check, "report_signature");
    assert_eq!(sub.shomei.reasons[0].claim, TrustClaim::InstanceIdentity);
}

#[test]
fn the_overall_status_is_the_worst_submod() {
    let (_, debug) = emulated_snp(0x30000 | shomei_snp::bits::GuestPolicy::DEBUG, [0; 64]);
    let bad = run(
        &debug,
        EMU_AT,
        &Policies::default(),
        &snp_test_anchors(),
        None,
    );
    let good = affirming();
    let ear = Ear::new(ISSUED, 60, None, [("cpu", &good), ("guest", &bad)]).unwrap();
    assert_eq!(ear.status(), Tier::Contraindicated);
    assert_eq!(ear.submods.len(), 2);
    assert!(Ear::new(ISSUED, 60, None, []).unwrap().status() == Tier::None);
}

#[test]
fn a_tampered_ear_is_refused() {
    let s = signer(Alg::Es256);
    let v = s.verifier().unwrap();
    let jwt = token(&s, &affirming());
    let parts: Vec<&str> = jwt.split('.').collect();

    // A payload that says something else, under the original signature.
    let mut body: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
    body["exp"] = serde_json::json!(ISSUED.secs() + 1_000_000);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        Base64UrlUnpadded::encode_string(&serde_json::to_vec(&body).unwrap()),
        parts[2]
    );
    assert_eq!(refused(&v, &forged, at(10)), EarRejection::Signature);

    // Every single-character change of the signed text or the signature.
    let bytes = jwt.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'.' {
            continue;
        }
        let mut changed = bytes.to_vec();
        changed[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        assert!(
            v.verify(&changed, at(10)).is_err(),
            "change at {i} accepted"
        );
    }

    // Not three parts; an unsigned (alg none) token; a critical header.
    assert_eq!(
        refused(&v, &format!("{}.{}", parts[0], parts[1]), at(10)).check(),
        "ear_format"
    );
    let none = Base64UrlUnpadded::encode_string(br#"{"alg":"none"}"#);
    assert_eq!(
        refused(&v, &format!("{none}.{}.", parts[1]), at(10)).check(),
        "ear_algorithm"
    );
    let crit = Base64UrlUnpadded::encode_string(br#"{"alg":"ES256","crit":["exp"]}"#);
    assert_eq!(
        refused(&v, &format!("{crit}.{}.{}", parts[1], parts[2]), at(10)).check(),
        "ear_format"
    );
}

#[test]
fn every_truncation_of_a_token_is_refused_without_panicking() {
    let s = signer(Alg::Es256);
    let v = s.verifier().unwrap();
    let jwt = token(&s, &affirming());
    for n in 0..jwt.len() {
        assert!(
            v.verify(&jwt[..n], at(1)).is_err(),
            "prefix of {n} accepted"
        );
    }
    assert!(v.verify(&format!("{jwt}.x"), at(1)).is_err());
    assert!(v.verify(&format!("{jwt}x"), at(1)).is_err());
}

#[test]
fn an_expired_or_not_yet_issued_ear_is_refused() {
    let s = signer(Alg::Es256);
    let v = s.verifier().unwrap();
    let jwt = token(&s, &affirming());
    assert!(v.verify(&jwt, at(0)).is_ok());
    assert!(v.verify(&jwt, at(299)).is_ok());
    assert_eq!(
        refused(&v, &jwt, at(300)),
        EarRejection::Expired {
            exp: at(300),
            at: at(300)
        }
    );
    assert_eq!(refused(&v, &jwt, at(-1)).check(), "ear_not_yet_valid");
    // A result without exp cannot be a passport.
    let mut ear = Ear::new(ISSUED, 300, None, [("snp", &affirming())]).unwrap();
    ear.exp = None;
    assert_eq!(
        refused(&v, &s.sign(&ear).unwrap(), at(1)),
        EarRejection::NoExpiry
    );
    // Nor one of another profile.
    ear.exp = Some(at(300).secs());
    ear.profile = "tag:example.com,2024:other".into();
    assert_eq!(
        refused(&v, &s.sign(&ear).unwrap(), at(1)).check(),
        "ear_profile"
    );
}

#[test]
fn an_ear_signed_by_another_key_is_refused() {
    let s = signer(Alg::Es256);
    let other = signer(Alg::Es256);
    let jwt = token(&other, &affirming());
    let v = s.verifier().unwrap();
    assert_eq!(refused(&v, &jwt, at(1)).check(), "ear_key_id");
    // Without a kid to go by, the signature decides.
    let parts: Vec<&str> = jwt.split('.').collect();
    let no_kid = Base64UrlUnpadded::encode_string(br#"{"alg":"ES256"}"#);
    let stripped = format!("{no_kid}.{}.{}", parts[1], parts[2]);
    assert_eq!(refused(&v, &stripped, at(1)), EarRejection::Signature);
    // A key of the other curve is refused by algorithm.
    let v384 = signer(Alg::Es384).verifier().unwrap();
    assert_eq!(refused(&v384, &jwt, at(1)).check(), "ear_algorithm");
}

#[test]
fn the_jwks_publishes_the_verifying_key() {
    let s = signer(Alg::Es256);
    let jwks = s.jwks();
    let j = serde_json::to_value(&jwks).unwrap();
    let k = &j["keys"][0];
    assert_eq!(k["kty"], "EC");
    assert_eq!(k["crv"], "P-256");
    assert_eq!(k["alg"], "ES256");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["x"].as_str().unwrap().len(), 43);
    assert_eq!(k["y"].as_str().unwrap().len(), 43);
    // A relying party that fetched the JWKS as JSON verifies results with it.
    let fetched: shomei_verifier::Jwks = serde_json::from_value(j.clone()).unwrap();
    let v = EarVerifier::from_jwk(&fetched.keys[0]).unwrap();
    assert_eq!(Some(v.kid()), s.jwk().kid.as_deref());
    assert!(v.verify(&token(&s, &affirming()), at(1)).is_ok());
    // The kid is the RFC 7638 thumbprint, recomputed rather than trusted.
    let mut lying = fetched.keys[0].clone();
    lying.kid = Some("someone else".into());
    assert_eq!(
        EarVerifier::from_jwk(&lying).unwrap().kid(),
        s.jwk().kid.as_deref().unwrap()
    );
    // A malformed key is an error.
    let mut short = fetched.keys[0].clone();
    short.x = "AAAA".into();
    assert!(matches!(EarVerifier::from_jwk(&short), Err(Error::Key(_))));
}

#[test]
fn a_relying_party_verifies_with_a_jwks_across_a_key_rotation() {
    let (old, new) = (signer(Alg::Es256), signer(Alg::Es384));
    let jwks = shomei_verifier::Jwks {
        keys: vec![old.jwk().clone(), new.jwk().clone()],
    };
    let a = affirming();
    assert!(jwks.verify(&token(&old, &a), at(1)).unwrap().is_affirming());
    assert!(jwks.verify(&token(&new, &a), at(1)).unwrap().is_affirming());
    // Expiry still applies, and a key outside the set is refused.
    assert!(matches!(
        jwks.verify(&token(&old, &a), at(300)),
        Err(Error::Ear(EarRejection::Expired { .. }))
    ));
    let stranger = signer(Alg::Es256);
    assert!(matches!(
        jwks.verify(&token(&stranger, &a), at(1)),
        Err(Error::Ear(EarRejection::KeyId { .. }))
    ));
}

#[test]
fn a_stored_signing_key_reloads_to_the_same_key() {
    let pkcs8 = EarSigner::generate_pkcs8(Alg::Es256).unwrap();
    let a = EarSigner::from_pkcs8(Alg::Es256, &pkcs8).unwrap();
    let b = EarSigner::from_pkcs8(Alg::Es256, &pkcs8).unwrap();
    assert_eq!(a.jwk(), b.jwk());
    assert!(
        b.verifier()
            .unwrap()
            .verify(&token(&a, &affirming()), at(1))
            .is_ok()
    );
    // A P-256 key is not an ES384 key.
    assert!(EarSigner::from_pkcs8(Alg::Es384, &pkcs8).is_err());
}
