// libFuzzer target: the message parser, typed header access, validation and printing.
// Invariant: a message that parses prints to text that parses again to the same hot fields.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "referkit/core/message.hpp"
#include "referkit/core/validate.hpp"
#include "referkit/core/writer.hpp"

using namespace referkit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    for (Framing framing : {Framing::datagram, Framing::stream}) {
        auto m = Message::parse(bytes, Limits{}, framing);
        if (!m) {
            if (m.error().offset > size) std::abort();  // an offset must point into the input
            continue;
        }
        (void)validate_headers(*m);
        (void)m->vias();
        (void)m->contacts();
        (void)m->name_addrs(HeaderId::route);
        (void)m->refer_to();
        (void)m->event();
        (void)m->subscription_state();
        (void)m->replaces();
        (void)m->tokens(HeaderId::supported);
        (void)m->auth(HeaderId::www_authenticate);
        if (auto r = m->refer_to(); r) {
            if (auto rep = r->uri.header("Replaces")) (void)parse_replaces(percent_decode(*rep));
        }
        std::string printed = print(*m);
        auto again = Message::parse(printed);
        if (!again) std::abort();
        if (again->call_id() != m->call_id() || again->cseq().number != m->cseq().number || again->body() != m->body())
            std::abort();
    }
    return 0;
}
