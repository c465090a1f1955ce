// Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): reading challenges, answering them with
// the RFC's worked examples, the RFC 2069 form, userhash, server-side challenge/verify, log masking.
// The hash is the runtime's OpenSSL one, compiled into this test target.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/digest.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"
#include "referkit/runtime/openssl_digest.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

const DigestHash& hash() {
    static const DigestHash h = runtime::openssl_digest_hash();
    return h;
}

// A SIP response with the given status line and extra header lines.
Message response(std::string_view status_line, std::initializer_list<std::string_view> extra) {
    std::string s(status_line);
    s += "\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
         "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
         "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
         "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
         "CSeq: 314159 INVITE\r\n";
    for (std::string_view e : extra) {
        s += e;
        s += "\r\n";
    }
    s += "Content-Length: 0\r\n\r\n";
    auto m = Message::parse(s);
    EXPECT_TRUE(test::Ok(m)) << s;
    return std::move(*m);
}

// The value of a parameter in a header value we built (unquoted), "" when absent.
std::string param(std::string_view header_value, std::string_view name) {
    auto a = parse_auth(header_value);
    EXPECT_TRUE(test::Ok(a)) << header_value;
    if (!a) return {};
    for (const Param& p : a->params)
        if (iequals(p.name, name)) return unquote(p.value);
    return {};
}

// RFC 7616 §3.9.1: one realm, SHA-256 listed first, then MD5.
constexpr std::string_view k_sha256_challenge =
    "WWW-Authenticate: Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
constexpr std::string_view k_md5_challenge =
    "WWW-Authenticate: Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
constexpr std::string_view k_rfc7616_cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const Credentials k_mufasa{.username = "Mufasa", .password = "Circle of Life", .realm = ""};
const DigestAnswer k_get{.method = "GET", .uri = "/dir/index.html", .body = "", .nc = 1, .cnonce = k_rfc7616_cnonce};

TEST(Digest, AlgorithmNames) {
    EXPECT_EQ(to_string(DigestAlgorithm::md5), "MD5");
    EXPECT_EQ(to_string(DigestAlgorithm::md5_sess), "MD5-sess");
    EXPECT_EQ(to_string(DigestAlgorithm::sha256), "SHA-256");
    EXPECT_EQ(to_string(DigestAlgorithm::sha256_sess), "SHA-256-sess");
    EXPECT_FALSE(to_string(DigestError::no_challenge).empty());
    EXPECT_FALSE(to_string(DigestError::malformed_challenge).empty());
}

TEST(Digest, OpenSslHashIsLowercaseHex) {
    // Known digests of "" (RFC 8760 §2.6 item 7 prints the SHA-256 one).
    EXPECT_EQ(hash()(DigestAlgorithm::sha256, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hash()(DigestAlgorithm::md5_sess, ""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Digest, Rfc7616WorkedExampleSha256) {
    Message m = response("SIP/2.0 401 Unauthorized", {k_sha256_challenge, k_md5_challenge});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    ASSERT_EQ(cs->size(), 1U);  // one realm: only the strongest kept
    const DigestChallenge& c = cs->front();
    EXPECT_FALSE(c.proxy);
    EXPECT_EQ(c.realm, "http-auth@example.org");
    EXPECT_EQ(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
    EXPECT_EQ(c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    EXPECT_EQ(c.algorithm, DigestAlgorithm::sha256);
    EXPECT_TRUE(c.qop_auth);
    EXPECT_TRUE(c.qop_auth_int);
    EXPECT_FALSE(c.stale);
    EXPECT_FALSE(c.userhash);
    EXPECT_EQ(digest_header_name(c), "Authorization");

    std::string v = digest_authorization(c, k_mufasa, k_get, hash());
    // The response printed in RFC 7616 §3.9.1.
    EXPECT_EQ(param(v, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1") << v;
    EXPECT_EQ(param(v, "username"), "Mufasa");
    EXPECT_EQ(param(v, "realm"), "http-auth@example.org");
    EXPECT_EQ(param(v, "uri"), "/dir/index.html");
    EXPECT_EQ(param(v, "algorithm"), "SHA-256");
    EXPECT_EQ(param(v, "qop"), "auth");
    EXPECT_EQ(param(v, "nc"), "00000001");
    EXPECT_EQ(param(v, "cnonce"), k_rfc7616_cnonce);
    EXPECT_EQ(param(v, "opaque"), "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    // RFC 7616 §3.4: algorithm, qop and nc are tokens, never quoted.
    EXPECT_NE(v.find("algorithm=SHA-256"), std::string::npos) << v;
    EXPECT_NE(v.find("qop=auth,"), std::string::npos) << v;
    EXPECT_NE(v.find("nc=00000001"), std::string::npos) << v;
    EXPECT_TRUE(v.starts_with("Digest ")) << v;
}

TEST(Digest, Rfc7616WorkedExampleMd5) {
    Message m = response("SIP/2.0 401 Unauthorized", {k_md5_challenge});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    ASSERT_EQ(cs->size(), 1U);
    EXPECT_EQ(cs->front().algorithm, DigestAlgorithm::md5);
    std::string v = digest_authorization(cs->front(), k_mufasa, k_get, hash());
    // The response printed in RFC 7616 §3.9.1.
    EXPECT_EQ(param(v, "response"), "8ca523f5e9506fed4657c9700eebdbec") << v;
    EXPECT_EQ(param(v, "algorithm"), "MD5");
}

TEST(Digest, Rfc2617QopAuthExample) {
    // RFC 2617 §3.5: qop=auth, MD5, printed response 6629fae49393a05397450978507c4ef1.
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                          "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    std::string v = digest_authorization(
        cs->front(), Credentials{.username = "Mufasa", .password = "Circle Of Life", .realm = "testrealm@host.com"},
        DigestAnswer{.method = "GET", .uri = "/dir/index.html", .body = "", .nc = 1, .cnonce = "0a4f113b"}, hash());
    EXPECT_EQ(param(v, "response"), "6629fae49393a05397450978507c4ef1") << v;
}

TEST(Digest, NoQopGivesRfc2069Form) {
    // An MD5 challenge without qop (RFC 2543-era servers): response = H(H(A1):nonce:H(A2)), no
    // qop/nc/cnonce (RFC 3261 §22.4). Expected value computed independently (Python hashlib) for the
    // RFC 2069 example's inputs.
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"testrealm@host.com\", "
                          "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    const DigestChallenge& c = cs->front();
    EXPECT_FALSE(c.qop_auth);
    EXPECT_FALSE(c.qop_auth_int);
    std::string v = digest_authorization(
        c, Credentials{.username = "Mufasa", .password = "CircleOfLife", .realm = ""},
        DigestAnswer{.method = "GET", .uri = "/dir/index.html", .body = "", .nc = 1, .cnonce = "abc"}, hash());
    EXPECT_EQ(param(v, "response"), "1949323746fe6a43ef61f9606e7febea") << v;
    EXPECT_EQ(v.find("qop="), std::string::npos) << v;
    EXPECT_EQ(v.find("nc="), std::string::npos) << v;
    EXPECT_EQ(v.find("cnonce="), std::string::npos) << v;
    EXPECT_EQ(v.find("opaque="), std::string::npos) << v;  // none offered, none echoed
}

TEST(Digest, Sha256WithoutQopStillSendsQopAuth) {
    // RFC 8760 §2.6 item 8: qop defaults to "auth" and the UAC MUST send it.
    DigestChallenge c{.proxy = false, .realm = "r", .nonce = "n", .opaque = "", .algorithm = DigestAlgorithm::sha256};
    std::string v = digest_authorization(
        c, k_mufasa, DigestAnswer{.method = "INVITE", .uri = "sip:bob@b", .body = "", .nc = 2, .cnonce = "cn"}, hash());
    EXPECT_EQ(param(v, "qop"), "auth");
    EXPECT_EQ(param(v, "nc"), "00000002");
    auto a = parse_auth(v);
    ASSERT_TRUE(test::Ok(a));
    EXPECT_TRUE(digest_verify(*a, "INVITE", "Circle of Life", "", hash()));
}

TEST(Digest, AuthIntWhenOnlyAuthIntOffered) {
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\", algorithm=SHA-256"});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    EXPECT_FALSE(cs->front().qop_auth);
    EXPECT_TRUE(cs->front().qop_auth_int);
    const std::string body = "v=0\r\n";
    std::string v = digest_authorization(
        cs->front(), k_mufasa, DigestAnswer{.method = "INVITE", .uri = "sip:bob@b", .body = body, .nc = 1, .cnonce = "c"},
        hash());
    EXPECT_EQ(param(v, "qop"), "auth-int");
    // RFC 7616 §3.4.3: A2 = Method ":" uri ":" H(entity-body).
    const auto h = [](std::string_view s) { return hash()(DigestAlgorithm::sha256, s); };
    std::string expected = h(h("Mufasa:r:Circle of Life") + ":n:00000001:c:auth-int:" + h("INVITE:sip:bob@b:" + h(body)));
    EXPECT_EQ(param(v, "response"), expected);
    auto a = parse_auth(v);
    ASSERT_TRUE(test::Ok(a));
    EXPECT_TRUE(digest_verify(*a, "INVITE", "Circle of Life", body, hash()));
    EXPECT_FALSE(digest_verify(*a, "INVITE", "Circle of Life", "v=1\r\n", hash()));  // body is covered
}

TEST(Digest, UserhashSendsHashedUsername) {
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"http-auth@example.org\", nonce=\"n\", qop=\"auth\", "
                          "algorithm=SHA-256, userhash=true"});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    EXPECT_TRUE(cs->front().userhash);
    std::string v = digest_authorization(cs->front(), k_mufasa, k_get, hash());
    // RFC 7616 §3.4.4: username = H(unq(username) ":" unq(realm)); value from Python hashlib. (The
    // §3.9.2 example uses SHA-512-256, which we do not support.)
    EXPECT_EQ(param(v, "username"), "a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6") << v;
    EXPECT_EQ(param(v, "userhash"), "true");
    EXPECT_EQ(v.find("Mufasa"), std::string::npos) << v;
    // The response still hashes the plain name in A1.
    const auto h = [](std::string_view s) { return hash()(DigestAlgorithm::sha256, s); };
    std::string expected = h(h("Mufasa:http-auth@example.org:Circle of Life") + ":n:00000001:" +
                             std::string(k_rfc7616_cnonce) + ":auth:" + h("GET:/dir/index.html"));
    EXPECT_EQ(param(v, "response"), expected);
}

TEST(Digest, Sha512_256IsSkippedAsUnsupported) {
    // RFC 7616 §3.9.2's challenge: an algorithm we do not implement is ignored (RFC 8760 §2.4).
    Message only = response("SIP/2.0 401 Unauthorized",
                            {"WWW-Authenticate: Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, "
                             "nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", charset=UTF-8, userhash=true"});
    auto none = digest_challenges(only);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error(), DigestError::no_challenge);
    Message with_md5 = response("SIP/2.0 401 Unauthorized",
                                {"WWW-Authenticate: Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, "
                                 "nonce=\"a\"",
                                 "WWW-Authenticate: Digest realm=\"api@example.org\", qop=\"auth\", nonce=\"b\""});
    auto cs = digest_challenges(with_md5);
    ASSERT_TRUE(cs.has_value());
    ASSERT_EQ(cs->size(), 1U);
    EXPECT_EQ(cs->front().algorithm, DigestAlgorithm::md5);
    EXPECT_EQ(cs->front().nonce, "b");
}

TEST(Digest, Sha256PreferredOverMd5WhateverTheOrder) {
    // MD5 listed first: RFC 8760 §2.4 says topmost "unless a local policy dictates otherwise"; ours
    // prefers SHA-256.
    Message m = response("SIP/2.0 401 Unauthorized", {k_md5_challenge, k_sha256_challenge});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    ASSERT_EQ(cs->size(), 1U);
    EXPECT_EQ(cs->front().algorithm, DigestAlgorithm::sha256);
    // Same strength: the topmost wins (RFC 8760 §2.4).
    Message two_md5 = response("SIP/2.0 401 Unauthorized",
                               {"WWW-Authenticate: Digest realm=\"r\", nonce=\"first\", algorithm=MD5-sess, qop=\"auth\"",
                                "WWW-Authenticate: Digest realm=\"r\", nonce=\"second\", algorithm=MD5, qop=\"auth\""});
    auto cs2 = digest_challenges(two_md5);
    ASSERT_TRUE(cs2.has_value());
    ASSERT_EQ(cs2->size(), 1U);
    EXPECT_EQ(cs2->front().nonce, "first");
    EXPECT_EQ(cs2->front().algorithm, DigestAlgorithm::md5_sess);
}

TEST(Digest, TwoRealmsKeepTheirOrder) {
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"b.example\", nonce=\"1\", qop=\"auth\"",
                          "WWW-Authenticate: Basic realm=\"b.example\"",
                          "WWW-Authenticate: Digest realm=\"a.example\", nonce=\"2\", qop=\"auth\", algorithm=SHA-256",
                          "WWW-Authenticate: Digest realm=\"b.example\", nonce=\"3\", qop=\"auth\", algorithm=SHA-256-sess"});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    ASSERT_EQ(cs->size(), 2U);
    EXPECT_EQ((*cs)[0].realm, "b.example");
    EXPECT_EQ((*cs)[0].algorithm, DigestAlgorithm::sha256_sess);
    EXPECT_EQ((*cs)[0].nonce, "3");
    EXPECT_EQ((*cs)[1].realm, "a.example");
    EXPECT_EQ((*cs)[1].algorithm, DigestAlgorithm::sha256);
    EXPECT_TRUE(credentials_match(Credentials{.username = "u", .password = "p", .realm = "a.example"}, (*cs)[1]));
    EXPECT_FALSE(credentials_match(Credentials{.username = "u", .password = "p", .realm = "a.example"}, (*cs)[0]));
    EXPECT_TRUE(credentials_match(Credentials{.username = "u", .password = "p", .realm = ""}, (*cs)[0]));
}

TEST(Digest, ProxyChallengeAnswersInProxyAuthorization) {
    Message m = response("SIP/2.0 407 Proxy Authentication Required",
                         {"Proxy-Authenticate: Digest realm=\"atlanta.com\", nonce=\"wf84f1ceczx41ae6cbe5aea9c8e88d359\", "
                          "opaque=\"\", stale=FALSE, algorithm=MD5, qop=\"auth\""});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    EXPECT_TRUE(cs->front().proxy);
    EXPECT_FALSE(cs->front().stale);
    EXPECT_EQ(digest_header_name(cs->front()), "Proxy-Authorization");
}

TEST(Digest, StaleFlag) {
    Message m = response("SIP/2.0 401 Unauthorized",
                         {"WWW-Authenticate: Digest realm=\"r\", nonce=\"fresh\", stale=TRUE, qop=\"auth\""});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    EXPECT_TRUE(cs->front().stale);  // case-insensitive (RFC 7616 §3.3)
}

TEST(Digest, EscapedQuotesInRealm) {
    Message m = response("SIP/2.0 401 Unauthorized",
                         {R"(WWW-Authenticate: Digest realm="the \"best\" realm\\x", nonce="n\"1", qop="auth")"});
    auto cs = digest_challenges(m);
    ASSERT_TRUE(cs.has_value());
    const DigestChallenge& c = cs->front();
    EXPECT_EQ(c.realm, R"(the "best" realm\x)");
    EXPECT_EQ(c.nonce, R"(n"1)");
    std::string v = digest_authorization(
        c, k_mufasa, DigestAnswer{.method = "REGISTER", .uri = "sip:r", .body = "", .nc = 1, .cnonce = "c"}, hash());
    EXPECT_NE(v.find(R"(realm="the \"best\" realm\\x")"), std::string::npos) << v;  // re-escaped
    // A1 hashes the unescaped realm (RFC 7616 §3.4.5 unq()).
    const auto h = [](std::string_view s) { return hash()(DigestAlgorithm::md5, s); };
    std::string expected = h(h(R"(Mufasa:the "best" realm\x:Circle of Life)") + R"(:n"1:00000001:c:auth:)" + h("REGISTER:sip:r"));
    EXPECT_EQ(param(v, "response"), expected);
    auto a = parse_auth(v);
    ASSERT_TRUE(test::Ok(a));
    EXPECT_TRUE(digest_verify(*a, "REGISTER", "Circle of Life", "", hash()));
}

TEST(Digest, MalformedChallengeIsAnError) {
    Message unterminated = response("SIP/2.0 401 Unauthorized", {"WWW-Authenticate: Digest realm=\"r, nonce=\"n"});
    auto e1 = digest_challenges(unterminated);
    ASSERT_FALSE(e1.has_value());
    EXPECT_EQ(e1.error(), DigestError::malformed_challenge);
    Message no_nonce = response("SIP/2.0 401 Unauthorized", {"WWW-Authenticate: Digest realm=\"r\", qop=\"auth\""});
    auto e2 = digest_challenges(no_nonce);
    ASSERT_FALSE(e2.has_value());
    EXPECT_EQ(e2.error(), DigestError::malformed_challenge);
    // A malformed challenge next to a good one is ignored (RFC 8760 §2.4).
    Message mixed = response("SIP/2.0 401 Unauthorized",
                             {"WWW-Authenticate: Digest realm=\"r\" nonce=\"n\"",
                              "WWW-Authenticate: Digest realm=\"r\", nonce=\"good\""});
    auto ok = digest_challenges(mixed);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->front().nonce, "good");
}

TEST(Digest, NoChallenge) {
    Message none = response("SIP/2.0 401 Unauthorized", {});
    ASSERT_FALSE(digest_challenges(none).has_value());
    EXPECT_EQ(digest_challenges(none).error(), DigestError::no_challenge);
    Message basic = response("SIP/2.0 401 Unauthorized", {"WWW-Authenticate: Basic realm=\"r\""});
    EXPECT_EQ(digest_challenges(basic).error(), DigestError::no_challenge);
    // A qop list with nothing we can do cannot be answered.
    Message odd_qop = response("SIP/2.0 401 Unauthorized", {"WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\""});
    EXPECT_EQ(digest_challenges(odd_qop).error(), DigestError::no_challenge);
}

TEST(Digest, ServerChallengeRoundTripsForEveryAlgorithm) {
    for (DigestAlgorithm alg : {DigestAlgorithm::md5, DigestAlgorithm::md5_sess, DigestAlgorithm::sha256,
                                DigestAlgorithm::sha256_sess}) {
        SCOPED_TRACE(std::string(to_string(alg)));
        std::string value = digest_challenge_value("biloxi.com", "abc\"def", alg, true, true, "op");
        Message m = response("SIP/2.0 401 Unauthorized", {"WWW-Authenticate: " + value});
        auto cs = digest_challenges(m);
        ASSERT_TRUE(cs.has_value()) << value;
        const DigestChallenge& c = cs->front();
        EXPECT_EQ(c.realm, "biloxi.com");
        EXPECT_EQ(c.nonce, "abc\"def");
        EXPECT_EQ(c.opaque, "op");
        EXPECT_EQ(c.algorithm, alg);
        EXPECT_TRUE(c.qop_auth);
        EXPECT_TRUE(c.stale);
        std::string v = digest_authorization(
            c, Credentials{.username = "bob", .password = "zanzibar", .realm = "biloxi.com"},
            DigestAnswer{.method = "INVITE", .uri = "sip:bob@biloxi.com", .body = "", .nc = 7, .cnonce = "0a4f113b"},
            hash());
        auto a = parse_auth(v);
        ASSERT_TRUE(test::Ok(a)) << v;
        EXPECT_TRUE(digest_verify(*a, "INVITE", "zanzibar", "", hash())) << v;
        EXPECT_FALSE(digest_verify(*a, "INVITE", "zanzibaR", "", hash())) << v;
        EXPECT_FALSE(digest_verify(*a, "BYE", "zanzibar", "", hash())) << v;  // method is covered
    }
}

TEST(Digest, ServerChallengeWithoutQopOrStale) {
    std::string value = digest_challenge_value("r", "n", DigestAlgorithm::md5, false, false);
    EXPECT_EQ(value, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5");
}

TEST(Digest, VerifyRfc7616Credentials) {
    // The Authorization header printed in RFC 7616 §3.9.1 (SHA-256), checked against the password.
    constexpr std::string_view cred =
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm=SHA-256, "
        "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
        "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
        "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
        "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    auto a = parse_auth(cred);
    ASSERT_TRUE(test::Ok(a));
    EXPECT_TRUE(digest_verify(*a, "GET", "Circle of Life", "", hash()));
    EXPECT_FALSE(digest_verify(*a, "GET", "Circle of life", "", hash()));
    // Tampered nc, missing response, unknown qop: all refused.
    std::string tampered(cred);
    tampered.replace(tampered.find("00000001"), 8, "00000002");
    auto t = parse_auth(tampered);
    ASSERT_TRUE(test::Ok(t));
    EXPECT_FALSE(digest_verify(*t, "GET", "Circle of Life", "", hash()));
    auto missing = parse_auth("Digest username=\"Mufasa\", realm=\"r\", nonce=\"n\", uri=\"/\"");
    ASSERT_TRUE(test::Ok(missing));
    EXPECT_FALSE(digest_verify(*missing, "GET", "Circle of Life", "", hash()));
    auto other = parse_auth("Bearer token=\"abc\"");
    ASSERT_TRUE(test::Ok(other));
    EXPECT_FALSE(digest_verify(*other, "GET", "pass", "", hash()));  // not Digest
}

TEST(Digest, MaskCredentialsHidesSecrets) {
    std::string v = digest_authorization(
        DigestChallenge{.proxy = false, .realm = "r", .nonce = "secret-nonce", .opaque = "o",
                        .algorithm = DigestAlgorithm::md5, .qop_auth = true},
        k_mufasa, DigestAnswer{.method = "INVITE", .uri = "sip:b", .body = "", .nc = 1, .cnonce = "secret-cnonce"},
        hash());
    std::string response = param(v, "response");
    ASSERT_EQ(response.size(), 32U);
    std::string masked = mask_credentials(v);
    EXPECT_EQ(masked.find(response), std::string::npos) << masked;
    EXPECT_EQ(masked.find("secret-nonce"), std::string::npos) << masked;
    EXPECT_EQ(masked.find("secret-cnonce"), std::string::npos) << masked;
    EXPECT_NE(masked.find("response=\"***\""), std::string::npos) << masked;
    EXPECT_NE(masked.find("username=\"Mufasa\""), std::string::npos) << masked;  // the rest is kept
    EXPECT_NE(masked.find("nc=00000001"), std::string::npos) << masked;
    EXPECT_TRUE(test::Ok(parse_auth(masked)));
    // Unquoted (non-conforming) values and unparseable text are masked too.
    EXPECT_EQ(mask_credentials("Digest response=abcdef, username=\"u\""), "Digest response=***, username=\"u\"");
    EXPECT_EQ(mask_credentials("Digest response=\"abc"), "***");
}

}  // namespace
}  // namespace referkit
