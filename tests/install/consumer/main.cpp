// Uses the installed library: the version header, the core (parse a REFER, its Refer-To), the
// runtime (the OpenSSL digest hash) and the UserAgent's header (which includes Asio), so that both
// libraries, their include paths and their dependencies must be right.
#include <cstdio>
#include <string>

#include "referkit/core/message.hpp"
#include "referkit/runtime/openssl_digest.hpp"
#include "referkit/user_agent.hpp"
#include "referkit/version.hpp"

int main() {
    auto m = referkit::Message::parse(
        "REFER sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\nCSeq: 1 REFER\r\n"
        "Refer-To: <sip:carol@example.com>\r\nContent-Length: 0\r\n\r\n");
    if (!m) return 1;
    auto to = m->refer_to();
    if (!to) return 1;
    const std::string md5 = referkit::runtime::openssl_digest_hash()(referkit::DigestAlgorithm::md5, "abc");
    std::printf("referkit %s: Refer-To %.*s, md5(abc) %s\n", referkit::version_string,
                static_cast<int>(to->uri.text.size()), to->uri.text.data(), md5.c_str());
    return md5 == "900150983cd24fb0d6963f7d28e17f72" ? 0 : 1;
}
