// Benchmark adapter around libre (creytiv "re" 1.1.0, Debian package libre-dev, pkg-config name
// "libre").
//
// libre's headers need the configuration macros its own build uses: HAVE_INTTYPES_H (else
// re_types.h typedefs its own int types), HAVE_STDBOOL_H (else, in C++, it #defines bool/true/
// false) and HAVE_INET6 (struct sa; the union is padded to the same size either way). The
// referkit_bench_peers target defines them (see peers.cmake); a hand build must pass
// -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6. re.h wraps itself in extern "C", but
// re_types.h #defines min()/max(), which are #undef'd below.
//
// Work done by re_parse() on every call:
//   1. mbuf_alloc() + mbuf_write_mem(): the raw bytes are copied into a libre memory buffer
//      (this is how libre's transports hand data to the SIP layer).
//   2. sip_msg_decode(): splits the start line, decodes the Request-URI (uri_decode), splits
//      every header line (comma-separated list headers are split per value) into a list and a
//      hash table keyed by header id (compact names map to the same id), and fully decodes the
//      top Via (sip_via_decode incl. "branch"), To and From (sip_addr_decode + "tag"), CSeq
//      (sip_cseq_decode); Call-ID is kept as a view. Other header values stay undecoded views.
//   3. Fields folded: method (met) or status code (scode), Request-URI host (uri.host), top Via
//      host (uri_decode_hostport() on via.sentby) and branch, From/To tag, Call-ID, CSeq number
//      and method.
//      Refer-To, Event and Subscription-State are not decoded by sip_msg_decode, so they are
//      looked up with sip_msg_hdr(msg, SIP_HDR_REFER_TO / SIP_HDR_EVENT /
//      SIP_HDR_SUBSCRIPTION_STATE) and decoded with the library's own parsers:
//        Refer-To           -> sip_addr_decode(), fold uri.host
//        Event              -> sipevent_event_decode(), fold the event type
//        Subscription-State -> sipevent_substate_decode(), fold sipevent_substate_name(state)
//                              ("active"/"pending"/"terminated"; libre maps any other value to
//                              "unknown")
//      sip_msg_hdr() by id is used rather than sip_msg_xhdr(msg, "Refer-To") because the by-name
//      lookup compares the literal name and would miss the compact forms "r" and "o", while
//      libre files compact and long names under the same header id.
//      If one of these headers is present but libre cannot decode it, the message counts as failed.
//   4. mem_deref() on the message and the buffer frees everything before returning.
//
// re_keep() always returns nullptr: libre has no printer for a decoded struct sip_msg (it only
// prints messages it builds itself, e.g. sip_requestf()/sip_treplyf(); sip_msg_dump() is a
// debug dump of header name/value views to stdout).
//
// re_init() does nothing: sip_msg_decode() only needs libre's mem_* allocator, which works
// without libre_init() (that sets up the event loop/OpenSSL and would need libre_close()).
#include "peers.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#if !defined(HAVE_INTTYPES_H) || !defined(HAVE_STDBOOL_H)
#error "re_adapter.cpp needs -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H (set by referkit_bench_peers)"
#endif

// re_mem.h declares volatile-qualified parameters, deprecated in C++20 (-Wvolatile).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <re.h>
#pragma GCC diagnostic pop
#undef min
#undef max

namespace referkit::bench {
namespace {

constexpr std::uint64_t kSeed = 0xcbf29ce484222325ULL;

struct MemDeleter {
    void operator()(void* p) const noexcept { mem_deref(p); }
};
using MbufPtr = std::unique_ptr<mbuf, MemDeleter>;
using SipMsgPtr = std::unique_ptr<sip_msg, MemDeleter>;

std::string_view view(const pl& p) noexcept {
    return p.p != nullptr ? std::string_view{p.p, p.l} : std::string_view{};
}

// Mixes p if the library found it (a set, non-empty view).
std::uint64_t mix_pl(std::uint64_t h, const pl& p) noexcept {
    return pl_isset(&p) ? mix(h, view(p)) : h;
}

std::optional<std::uint64_t> fold(const sip_msg& msg) noexcept {
    std::uint64_t h = kSeed;
    if (msg.req) {
        h = mix_pl(h, msg.met);
        h = mix_pl(h, msg.uri.host);
    } else {
        h = mix(h, static_cast<std::uint64_t>(msg.scode));
    }

    pl host{}, port{};
    if (pl_isset(&msg.via.sentby) && uri_decode_hostport(&msg.via.sentby, &host, &port) == 0)
        h = mix_pl(h, host);
    h = mix_pl(h, msg.via.branch);
    h = mix_pl(h, msg.from.tag);
    h = mix_pl(h, msg.to.tag);
    h = mix_pl(h, msg.callid);
    if (pl_isset(&msg.cseq.met)) {
        h = mix(h, static_cast<std::uint64_t>(msg.cseq.num));
        h = mix_pl(h, msg.cseq.met);
    }

    if (const sip_hdr* hdr = sip_msg_hdr(&msg, SIP_HDR_REFER_TO)) {
        sip_addr addr{};
        if (sip_addr_decode(&addr, &hdr->val) != 0) return std::nullopt;
        h = mix_pl(h, addr.uri.host);
    }
    if (const sip_hdr* hdr = sip_msg_hdr(&msg, SIP_HDR_EVENT)) {
        sipevent_event event{};
        if (sipevent_event_decode(&event, &hdr->val) != 0) return std::nullopt;
        h = mix_pl(h, event.event);
    }
    if (const sip_hdr* hdr = sip_msg_hdr(&msg, SIP_HDR_SUBSCRIPTION_STATE)) {
        sipevent_substate state{};
        if (sipevent_substate_decode(&state, &hdr->val) != 0) return std::nullopt;
        h = mix(h, std::string_view{sipevent_substate_name(state.state)});
    }
    return h;
}

}  // namespace

void re_init() {}

PeerResult re_parse(std::string_view raw) {
    if (raw.empty()) return {};
    MbufPtr mb{mbuf_alloc(raw.size())};
    if (!mb) return {};
    if (mbuf_write_mem(mb.get(), reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()) !=
        0)
        return {};
    mbuf_set_pos(mb.get(), 0);

    sip_msg* decoded = nullptr;
    if (sip_msg_decode(&decoded, mb.get()) != 0) return {};
    SipMsgPtr msg{decoded};  // holds its own reference to the buffer

    const auto sum = fold(*msg);
    if (!sum) return {};
    return {true, *sum};
}

// libre cannot print a decoded message (see the top of this file): always nullptr.
PeerMessage* re_keep(std::string_view /*raw*/) { return nullptr; }

}  // namespace referkit::bench
