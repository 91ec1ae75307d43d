//! Intel DCAP quotes: parse (v3 SGX, v4 and v5 TDX), verify against the pinned Intel SGX Root CA
//! with TCB Info and QE Identity collateral, and appraise the verdict against a policy.
