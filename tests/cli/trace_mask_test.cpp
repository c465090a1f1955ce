// The masking --trace applies before printing a SIP message: digest secrets never reach stderr.
#include <gtest/gtest.h>

#include <string>

#include "timeline.hpp"

namespace referkit::cli {
namespace {

TEST(TraceMask, AuthorizationSecretsAreMaskedAndTheRestKept) {
    const std::string msg =
        "REFER sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        "Authorization: Digest username=\"alice\", realm=\"x\", nonce=\"n0nce\", uri=\"sip:bob@example.com\",\r\n"
        "  response=\"0123456789abcdef\", cnonce=\"c0nce\", qop=auth, nc=00000001\r\n"
        "proxy-authorization : Digest username=\"alice\", realm=\"p\", nonce=\"pn\", uri=\"sip:b\", response=\"feed\"\r\n"
        "Refer-To: <sip:carol@example.com>\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    const std::string out = masked_message(msg);
    for (const char* secret : {"0123456789abcdef", "c0nce", "n0nce", "feed", "\"pn\""})
        EXPECT_EQ(out.find(secret), std::string::npos) << secret << " leaked:\n" << out;
    EXPECT_NE(out.find("username=\"alice\""), std::string::npos) << out;
    EXPECT_NE(out.find("REFER sip:bob@example.com SIP/2.0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Refer-To: <sip:carol@example.com>\n"), std::string::npos) << out;
    EXPECT_EQ(out.find('\r'), std::string::npos);
}

// RFC 3261 §7.5: a datagram may start with CRLFs; they are not the end of the headers.
TEST(TraceMask, LeadingCrlfDoesNotHideTheHeaders) {
    const std::string out = masked_message(
        "\r\n\r\nREGISTER sip:example.com SIP/2.0\r\n"
        "Authorization: Digest username=\"a\", realm=\"r\", nonce=\"n1\", uri=\"sip:example.com\", response=\"secret99\"\r\n"
        "Content-Length: 0\r\n\r\n");
    EXPECT_EQ(out.find("secret99"), std::string::npos) << out;
    EXPECT_NE(out.find("REGISTER sip:example.com"), std::string::npos) << out;
}

TEST(TraceMask, BodyAndLookalikeHeadersAreNotTouched) {
    const std::string msg =
        "NOTIFY sip:a@example.com SIP/2.0\r\n"
        "Authorization-Info: nextnonce=\"keep\"\r\n"
        "Content-Length: 30\r\n"
        "\r\n"
        "Authorization: response=\"body\"";
    const std::string out = masked_message(msg);
    EXPECT_NE(out.find("nextnonce=\"keep\""), std::string::npos) << out;
    EXPECT_NE(out.find("Authorization: response=\"body\""), std::string::npos) << out;
}

}  // namespace
}  // namespace referkit::cli
