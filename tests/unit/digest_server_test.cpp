// The UAS side of digest (DigestServer, RFC 3261 §22.2, RFC 7616 §3.3-§3.5): challenges that
// clients can answer, verification, stale nonces, replays, forged nonces, the bounded replay table.
// The hash is the runtime's OpenSSL one, compiled into this test target.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "referkit/core/digest_server.hpp"
#include "referkit/runtime/openssl_digest.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {
using namespace std::chrono_literals;

const DigestHash& hash() {
    static const DigestHash h = runtime::openssl_digest_hash();
    return h;
}

constexpr std::string_view k_uri = "sip:carol@192.0.2.3:5060";

Message refer(const std::vector<std::string>& authorization, std::string_view uri = k_uri) {
    std::string s = "REFER " + std::string(uri) +
                    " SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                    "To: <sip:carol@192.0.2.3>\r\nFrom: <sip:alice@192.0.2.1>;tag=1\r\n"
                    "Call-ID: c1\r\nCSeq: 1 REFER\r\nRefer-To: <sip:bob@192.0.2.2>\r\n";
    for (const std::string& a : authorization) s += "Authorization: " + a + "\r\n";
    s += "Content-Length: 0\r\n\r\n";
    auto m = Message::parse(s);
    EXPECT_TRUE(test::Ok(m)) << s;
    return std::move(*m);
}

// The challenges of `values` (WWW-Authenticate values) as a client reads them, best first.
std::vector<DigestChallenge> read(const std::vector<std::string>& values) {
    std::string s = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                    "To: <sip:carol@192.0.2.3>;tag=2\r\nFrom: <sip:alice@192.0.2.1>;tag=1\r\n"
                    "Call-ID: c1\r\nCSeq: 1 REFER\r\n";
    for (const std::string& v : values) s += "WWW-Authenticate: " + v + "\r\n";
    s += "Content-Length: 0\r\n\r\n";
    auto m = Message::parse(s);
    EXPECT_TRUE(test::Ok(m));
    auto c = digest_challenges(*m);
    EXPECT_TRUE(c.has_value());
    return c ? *c : std::vector<DigestChallenge>{};
}

std::string answer(const DigestChallenge& c, std::string_view password, std::uint32_t nc = 1,
                   std::string_view uri = k_uri, std::string_view user = "alice") {
    return digest_authorization(c, Credentials{.username = std::string(user), .password = std::string(password), .realm = ""},
                                DigestAnswer{.method = "REFER", .uri = uri, .body = "", .nc = nc, .cnonce = "0a4f113b"},
                                hash());
}

DigestServerConfig config() {
    return DigestServerConfig{.realm = "carol.example",
                              .accounts = {{.username = "alice", .password = "s3cret", .realm = ""}}};
}

TEST(DigestServer, ChallengesOfferSha256ThenMd5AndAClientAnswersThem) {
    DigestServer server(config(), hash(), 1, 2);
    EXPECT_EQ(server.check(refer({}), 0s).check, DigestCheck::missing);
    auto values = server.challenge(0s, false, 7);
    ASSERT_EQ(values.size(), 2u);
    EXPECT_NE(values[0].find("SHA-256"), std::string::npos);
    EXPECT_NE(values[1].find("MD5"), std::string::npos);
    auto cs = read(values);
    ASSERT_FALSE(cs.empty());
    EXPECT_EQ(cs.front().algorithm, DigestAlgorithm::sha256);
    EXPECT_EQ(cs.front().realm, "carol.example");
    EXPECT_TRUE(cs.front().qop_auth);
    EXPECT_FALSE(cs.front().stale);
    auto v = server.check(refer({answer(cs.front(), "s3cret")}), 1s);
    EXPECT_EQ(v.check, DigestCheck::ok) << to_string(v.check);
    EXPECT_EQ(v.user, "alice");
    // MD5 answers are taken as well (a client that knows no SHA-256), with the next nonce count.
    DigestChallenge md5 = cs.front();
    md5.algorithm = DigestAlgorithm::md5;
    EXPECT_EQ(server.check(refer({answer(md5, "s3cret", 2)}), 1s).check, DigestCheck::ok);
    EXPECT_TRUE(read(server.challenge(0s, true, 8)).front().stale);
}

TEST(DigestServer, WrongPasswordUnknownUserAndAnotherUriAreWrong) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge c = read(server.challenge(0s, false, 7)).front();
    EXPECT_EQ(server.check(refer({answer(c, "guess")}), 1s).check, DigestCheck::wrong);
    EXPECT_EQ(server.check(refer({answer(c, "s3cret", 1, k_uri, "mallory")}), 1s).check, DigestCheck::wrong);
    // An answer computed for another Request-URI (captured elsewhere) authorizes nothing here.
    EXPECT_EQ(server.check(refer({answer(c, "s3cret", 1, "sip:dave@192.0.2.3")}), 1s).check, DigestCheck::wrong);
    // A realm that is not ours is no credentials at all.
    DigestChallenge other = c;
    other.realm = "elsewhere";
    EXPECT_EQ(server.check(refer({answer(other, "s3cret")}), 1s).check, DigestCheck::missing);
    // None of these stored anything.
    EXPECT_EQ(server.nonce_records(), 0u);
}

TEST(DigestServer, ForgedOrForeignNoncesAreRefused) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge c = read(server.challenge(0s, false, 7)).front();
    DigestChallenge forged = c;
    forged.nonce.back() = forged.nonce.back() == '0' ? '1' : '0';  // the mac no longer matches
    EXPECT_EQ(server.check(refer({answer(forged, "s3cret")}), 1s).check, DigestCheck::bad_nonce);
    // Another server (another secret) issued it.
    DigestServer other(config(), hash(), 3, 4);
    EXPECT_EQ(other.check(refer({answer(c, "s3cret")}), 1s).check, DigestCheck::bad_nonce);
    forged.nonce = "abc";
    EXPECT_EQ(server.check(refer({answer(forged, "s3cret")}), 1s).check, DigestCheck::bad_nonce);
}

TEST(DigestServer, AnExpiredNonceIsStaleAndANewOneWorks) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge c = read(server.challenge(0s, false, 7)).front();
    const Time late = Time{} + server.config().nonce_lifetime;
    EXPECT_EQ(server.check(refer({answer(c, "s3cret")}), late).check, DigestCheck::stale);
    DigestChallenge fresh = read(server.challenge(late, true, 8)).front();
    EXPECT_EQ(server.check(refer({answer(fresh, "s3cret")}), late + 1s).check, DigestCheck::ok);
}

TEST(DigestServer, AReplayedAnswerIsStaleAndAHigherNonceCountIsAccepted) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge c = read(server.challenge(0s, false, 7)).front();
    const std::string first = answer(c, "s3cret", 1);
    EXPECT_EQ(server.check(refer({first}), 1s).check, DigestCheck::ok);
    EXPECT_EQ(server.check(refer({first}), 2s).check, DigestCheck::stale);  // the same request again
    EXPECT_EQ(server.check(refer({answer(c, "s3cret", 2)}), 3s).check, DigestCheck::ok);
    EXPECT_EQ(server.check(refer({answer(c, "s3cret", 2)}), 4s).check, DigestCheck::stale);
    EXPECT_EQ(server.nonce_records(), 1u);
}

TEST(DigestServer, WithoutQopANonceServesOnce) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge c = read(server.challenge(0s, false, 7)).front();
    c.algorithm = DigestAlgorithm::md5;
    c.qop_auth = false;  // the RFC 2069 form: no qop, no nc (MD5 only)
    const std::string a = answer(c, "s3cret");
    ASSERT_EQ(a.find("qop"), std::string::npos) << a;
    EXPECT_EQ(server.check(refer({a}), 1s).check, DigestCheck::ok);
    EXPECT_EQ(server.check(refer({a}), 2s).check, DigestCheck::stale);
}

TEST(DigestServer, TheReplayTableIsBoundedAndAForgottenNonceIsStaleNeverAccepted) {
    DigestServerConfig cfg = config();
    cfg.max_nonce_records = 2;
    DigestServer server(cfg, hash(), 1, 2);
    std::vector<DigestChallenge> cs;
    for (int i = 0; i < 3; ++i) {
        cs.push_back(read(server.challenge(Time{std::chrono::seconds(i)}, false, 10 + i)).front());
        EXPECT_EQ(server.check(refer({answer(cs.back(), "s3cret", 1)}), 10s).check, DigestCheck::ok);
    }
    EXPECT_EQ(server.nonce_records(), 2u);
    // The first nonce's record is gone: its replay, and even its next count, are stale.
    EXPECT_EQ(server.check(refer({answer(cs[0], "s3cret", 1)}), 11s).check, DigestCheck::stale);
    EXPECT_EQ(server.check(refer({answer(cs[0], "s3cret", 2)}), 11s).check, DigestCheck::stale);
    // The ones remembered still count up.
    EXPECT_EQ(server.check(refer({answer(cs[2], "s3cret", 1)}), 11s).check, DigestCheck::stale);
    EXPECT_EQ(server.check(refer({answer(cs[2], "s3cret", 2)}), 11s).check, DigestCheck::ok);
    // Records go when their nonce expires.
    const Time later = Time{std::chrono::seconds(3)} + cfg.nonce_lifetime;
    DigestChallenge fresh = read(server.challenge(later, false, 20)).front();
    EXPECT_EQ(server.check(refer({answer(fresh, "s3cret", 1)}), later).check, DigestCheck::ok);
    EXPECT_EQ(server.nonce_records(), 1u);
}

TEST(DigestServer, ARepeatedParameterIsRefusedSoACapturedAnswerCannotTakeAFreshNonce) {
    DigestServer server(config(), hash(), 1, 2);
    DigestChallenge old = read(server.challenge(0s, false, 7)).front();
    const std::string captured = answer(old, "s3cret", 1);
    ASSERT_EQ(server.check(refer({captured}), 1s).check, DigestCheck::ok);
    // Later: the captured value with a fresh nonce, another URI and a new count appended. The
    // hash still covers the captured nonce and URI; the checks must not read the appended ones.
    const Time later = Time{} + server.config().nonce_lifetime + 10s;
    DigestChallenge fresh = read(server.challenge(later, false, 8)).front();
    const std::string forged = captured + ", nonce=\"" + fresh.nonce + "\", uri=\"sip:dave@192.0.2.3\", nc=00000009";
    EXPECT_EQ(server.check(refer({forged}, "sip:dave@192.0.2.3"), later).check, DigestCheck::wrong);
    EXPECT_EQ(server.check(refer({forged}), later).check, DigestCheck::wrong);
    EXPECT_EQ(server.check(refer({captured + ", nc=00000009"}), 2s).check, DigestCheck::wrong);
}

}  // namespace
}  // namespace referkit
