// The runtime's DigestHash: MD5 and SHA-256 with OpenSSL 3 (EVP).
#pragma once
#include "referkit/core/digest.hpp"

namespace referkit::runtime {

// A DigestHash returning the lowercase hex digest (MD5 for md5/md5_sess, SHA-256 for
// sha256/sha256_sess). Stateless and thread-safe. Returns "" if OpenSSL fails (never expected).
[[nodiscard]] DigestHash openssl_digest_hash();

}  // namespace referkit::runtime
