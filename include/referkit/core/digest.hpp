// HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760): reading challenges,
// answering them and, for UAs that challenge, building challenges and verifying answers.
// The core has no crypto: the hash function is injected (runtime: openssl_digest_hash()).
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"

namespace referkit {

enum class DigestAlgorithm : std::uint8_t { md5, md5_sess, sha256, sha256_sess };
// "MD5", "MD5-sess", "SHA-256", "SHA-256-sess" (RFC 7616 §3.3, RFC 8760 §2.1).
[[nodiscard]] std::string_view to_string(DigestAlgorithm alg) noexcept;

// Injected hash (the core has no crypto): lowercase hex of MD5 (md5, md5_sess) or SHA-256
// (sha256, sha256_sess) of data. Must be callable from the thread that drives the core.
using DigestHash = std::function<std::string(DigestAlgorithm, std::string_view data)>;

// The user's secret. realm "" = answer any realm.
struct Credentials {
    std::string username;
    std::string password;
    std::string realm;
};

// One Digest challenge: owning, values unquoted (quoted-pair escapes removed).
struct DigestChallenge {
    bool proxy = false;  // from Proxy-Authenticate (407): answer in Proxy-Authorization
    std::string realm, nonce, opaque;
    DigestAlgorithm algorithm = DigestAlgorithm::md5;
    bool qop_auth = false, qop_auth_int = false, stale = false, userhash = false;
};

enum class DigestError : std::uint8_t {
    no_challenge,         // the response has no supported Digest challenge: give up (report the 401/407)
    malformed_challenge,  // a challenge header does not parse or a Digest challenge lacks realm/nonce
};
[[nodiscard]] std::string_view to_string(DigestError e) noexcept;

// The Digest challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) response, best
// first: for each realm only the strongest supported algorithm is kept (RFC 8760 §2.4: the UAC uses
// the first challenge of an algorithm it supports, and servers list their preferred one first;
// we prefer SHA-256 over MD5 whatever the order), realms in the order they first appear.
// Unsupported algorithms and schemes are skipped. Both headers are read when both are present.
// Errors: no_challenge when nothing usable remains; malformed_challenge when a header does not parse
// or a Digest challenge lacks realm or nonce.
[[nodiscard]] std::expected<std::vector<DigestChallenge>, DigestError> digest_challenges(const Message& response);

// What the answer covers. Views must outlive the call only.
struct DigestAnswer {
    std::string_view method;   // the request's method ("INVITE"; "ACK"/"CANCEL" never get one)
    std::string_view uri;      // the Request-URI as written (digest-uri, RFC 3261 §22.4)
    std::string_view body;     // the request body, for qop=auth-int
    std::uint32_t nc = 1;      // nonce count, 1 for the first use of a nonce
    std::string_view cnonce;   // client nonce from the injected random source (needed for qop and -sess)
};

// The Authorization / Proxy-Authorization header VALUE answering `c` with `cred` (qop=auth when
// offered, else auth-int when only auth-int is offered, else the RFC 2069 compatibility form for
// MD5/MD5-sess (RFC 3261 §22.4) and qop=auth for SHA-256 (RFC 8760 §2.6 item 8: qop defaults to auth);
// userhash when asked; opaque echoed if non-empty; algorithm always written). Never logs.
// Preconditions: hash is callable; a.cnonce is non-empty whenever qop or a -sess algorithm is used.
[[nodiscard]] std::string digest_authorization(const DigestChallenge& c, const Credentials& cred,
                                               const DigestAnswer& a, const DigestHash& hash);
// True when `cred` may answer `c`: cred.realm is "" (any realm) or equal to c.realm (case-sensitive).
[[nodiscard]] bool credentials_match(const Credentials& cred, const DigestChallenge& c) noexcept;
// "Authorization" or "Proxy-Authorization".
[[nodiscard]] std::string_view digest_header_name(const DigestChallenge& c) noexcept;

// Server side: a WWW-/Proxy-Authenticate header VALUE ("Digest realm=..., nonce=..., ...").
// realm/nonce/opaque are quoted with escapes as needed.
[[nodiscard]] std::string digest_challenge_value(std::string_view realm, std::string_view nonce, DigestAlgorithm alg,
                                                 bool qop_auth, bool stale, std::string_view opaque = {});
// True when `credentials` (a parsed Authorization value) answers correctly for method/password
// (the response, and the algorithm/qop fields it needs, are checked; nonce freshness is the caller's).
// Userhash credentials are not verified (false): the server cannot map them back without a table.
[[nodiscard]] bool digest_verify(const AuthParams& credentials, std::string_view method, std::string_view password,
                                 std::string_view body, const DigestHash& hash);

// Masks secrets for logs: returns the header value with the values of response, cnonce and nonce
// replaced by "***" (quotes kept). Text that does not parse is masked whole ("***").
[[nodiscard]] std::string mask_credentials(std::string_view authorization_value);

}  // namespace referkit
