// Benchmark adapter around Sofia-SIP (libsofia-sip-ua, Debian package libsofia-sip-ua-dev,
// pkg-config name "sofia-sip-ua").
//
// Work done by sofia_parse() on every call:
//   1. msg_make(sip_default_mclass(), 0, data, len): Sofia creates a msg_t with its own memory
//      home, copies the raw bytes into the message buffer and runs msg_extract(), which parses
//      the start line and runs the class parser of *every* header eagerly (Via, From, To,
//      Call-ID, CSeq, Contact, Route, Refer-To, Event, Subscription-State, ... are all native
//      Sofia header classes; compact forms are recognised by the parser tables). Unknown headers
//      become sip_unknown_t. The body is attached as a payload.
//   2. The message counts as failed if msg_make() returns nothing, if Sofia flagged the message
//      (MSG_FLG_ERROR: bad start line or a bad critical header such as Via/CSeq/From/To/Call-ID),
//      if it is not complete, or if one of the non-critical headers we read (Refer-To, Event,
//      Subscription-State) failed to parse (Sofia then files it under sip_error).
//   3. Fields folded, straight from the parsed structures: rq_method_name / st_status,
//      rq_url->url_host, top sip_via->v_host / v_branch, sip_from->a_tag, sip_to->a_tag,
//      sip_call_id->i_id, sip_cseq->cs_seq / cs_method_name, sip_refer_to->r_url->url_host,
//      sip_event->o_type, sip_subscription_state->ss_substate.
//   4. msg_destroy() releases the message home (and thus everything) before returning.
//
// print(): msg_as_string(NULL home, msg, NULL, 0, &len). In this Sofia version msg_as_string()
// serialises the header chain and calls the header class printer (hc_print, via
// msg_header_prepare) for *every* header into a fresh buffer; it never looks at the cached
// h_data/h_len text of the parsed headers (only msg_prepare()/msg_headers_prepare() reuse that
// cache). So each call really re-encodes the message: e.g. compact names come out in long form,
// "CSeq: 0009" comes out as "CSeq: 9" and folded header lines are joined. The body (payload) is
// copied as is. With a NULL home the string is malloc()ed; it is freed with su_free(NULL, ...)
// after copying it into `out`.
//
// sofia_init() does nothing but fetch the default SIP message class once: msg parsing only
// needs su_home allocation, not su_init() (which is for the socket/event-loop layer).
#include "peers.hpp"

// Sofia's headers carry inline helpers that trip -Wextra when not included as system headers
// (the CMake target gets them as system includes; this keeps a plain -I build quiet too).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#pragma GCC diagnostic pop

#include <memory>
#include <string>
#include <utility>

namespace referkit::bench {
namespace {

constexpr std::uint64_t kSeed = 0xcbf29ce484222325ULL;

struct MsgDeleter {
    void operator()(msg_t* m) const noexcept { msg_destroy(m); }
};
using MsgPtr = std::unique_ptr<msg_t, MsgDeleter>;

std::uint64_t mix_opt(std::uint64_t h, const char* s) noexcept {
    return s != nullptr ? mix(h, std::string_view{s}) : h;
}

// True if Sofia failed to parse one of the non-critical headers whose fields we fold.
bool needed_header_failed(const sip_t* sip) noexcept {
    for (const sip_error_t* e = sip->sip_error; e != nullptr; e = e->er_next) {
        const std::string_view name = e->er_name != nullptr ? e->er_name : "";
        if (name == "Refer-To" || name == "Event" || name == "Subscription-State") return true;
    }
    return false;
}

// Parses raw into a new message; nullptr if Sofia rejects it.
MsgPtr parse_message(std::string_view raw) {
    if (raw.empty()) return nullptr;
    MsgPtr msg{msg_make(sip_default_mclass(), 0, raw.data(), static_cast<ssize_t>(raw.size()))};
    if (!msg || msg_has_error(msg.get()) || !msg_is_complete(msg.get())) return nullptr;
    const sip_t* sip = sip_object(msg.get());
    if (sip == nullptr || (sip->sip_request == nullptr && sip->sip_status == nullptr) ||
        needed_header_failed(sip))
        return nullptr;
    return msg;
}

std::uint64_t fold(const sip_t* sip) noexcept {
    std::uint64_t h = kSeed;
    if (const sip_request_t* rq = sip->sip_request) {
        h = mix_opt(h, rq->rq_method_name);
        h = mix_opt(h, rq->rq_url->url_host);
    } else {
        h = mix(h, static_cast<std::uint64_t>(sip->sip_status->st_status));
    }
    if (const sip_via_t* via = sip->sip_via) {
        h = mix_opt(h, via->v_host);
        h = mix_opt(h, via->v_branch);
    }
    if (sip->sip_from != nullptr) h = mix_opt(h, sip->sip_from->a_tag);
    if (sip->sip_to != nullptr) h = mix_opt(h, sip->sip_to->a_tag);
    if (sip->sip_call_id != nullptr) h = mix_opt(h, sip->sip_call_id->i_id);
    if (const sip_cseq_t* cs = sip->sip_cseq) {
        h = mix(h, static_cast<std::uint64_t>(cs->cs_seq));
        h = mix_opt(h, cs->cs_method_name);
    }
    if (sip->sip_refer_to != nullptr) h = mix_opt(h, sip->sip_refer_to->r_url->url_host);
    if (sip->sip_event != nullptr) h = mix_opt(h, sip->sip_event->o_type);
    if (sip->sip_subscription_state != nullptr)
        h = mix_opt(h, sip->sip_subscription_state->ss_substate);
    return h;
}

class SofiaKept final : public PeerMessage {
public:
    explicit SofiaKept(MsgPtr msg) : msg_{std::move(msg)} {}

    std::size_t print(std::string& out) override {
        out.clear();
        std::size_t len = 0;
        char* text = msg_as_string(nullptr, msg_.get(), nullptr, 0, &len);
        if (text == nullptr) return 0;
        out.assign(text, len);
        su_free(nullptr, text);
        return len;
    }

private:
    MsgPtr msg_;
};

}  // namespace

void sofia_init() { (void)sip_default_mclass(); }

PeerResult sofia_parse(std::string_view raw) {
    MsgPtr msg = parse_message(raw);
    if (!msg) return {};
    return {true, fold(sip_object(msg.get()))};
}

// Returns a heap object owned by the caller (delete it), or nullptr if Sofia cannot parse raw.
PeerMessage* sofia_keep(std::string_view raw) {
    MsgPtr msg = parse_message(raw);
    if (!msg) return nullptr;
    return new SofiaKept{std::move(msg)};
}

}  // namespace referkit::bench
