// Benchmark adapter around GNU oSIP2 (libosipparser2, Debian package libosip2-dev, pkg-config
// name "libosip2").
//
// Work done by osip_parse() on every call:
//   1. osip_message_init() + osip_message_parse(): oSIP copies the raw bytes into its own
//      buffer, splits the start line and the header lines, and runs its per-header parsers on
//      every header it knows (Via, From, To, Call-ID, CSeq, Contact, Route, Record-Route,
//      Content-Type, Content-Length, ...). Headers it does not know (Refer-To, Event,
//      Subscription-State, Max-Forwards, ...) are only kept as name/value strings.
//   2. The known fields are read from the parsed structures: method or status code, Request-URI
//      host, top Via host and "branch" parameter, From/To "tag" parameters, Call-ID (oSIP stores
//      it as number and host; the text "number@host" is folded, so the checksum matches the
//      other adapters), CSeq number (converted from oSIP's text to an integer) and method.
//   3. Refer-To ("Refer-To" or compact "r"): found with osip_message_header_get_byname() and
//      parsed with oSIP's name-addr parser osip_from_parse() (which runs osip_uri_parse() on
//      the URI); the URI host is folded.
//      Event ("Event" / "o") and Subscription-State: found the same way and parsed with
//      osip_content_disposition_parse(), oSIP's generic "token *(;param)" parser (the grammar
//      of both headers); the leading token (event type, substate) is folded.
//      If one of these headers is present but oSIP cannot parse it, the message counts as failed.
//   4. Everything is freed (osip_message_free and the helper header objects) before returning.
//
// print(): oSIP caches the text of a message once it has printed it (message_property 1), and
// osip_message_to_str() then returns a copy of that cache. print() therefore calls
// osip_message_force_update() first, so every call rebuilds the text from the parsed
// structures with osip_message_to_str(); the returned string is freed with osip_free().
//
// osip_init() must be called before the first parse (it runs parser_init() once).
#include "peers.hpp"

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace referkit::bench {
namespace {

constexpr std::uint64_t kSeed = 0xcbf29ce484222325ULL;

std::string_view view(const char* s) noexcept {
    return s != nullptr ? std::string_view{s} : std::string_view{};
}

// Folds the Call-ID text `number "@" host` (oSIP splits it into two fields when parsing).
std::uint64_t mix_call_id(std::uint64_t h, const osip_call_id_t& id) {
    const std::string_view number = view(id.number);
    if (id.host == nullptr) return mix(h, number);
    const std::string_view host{id.host};
    char buf[256];
    const std::size_t n = number.size() + 1 + host.size();
    if (n <= sizeof buf) {
        std::memcpy(buf, number.data(), number.size());
        buf[number.size()] = '@';
        std::memcpy(buf + number.size() + 1, host.data(), host.size());
        return mix(h, std::string_view{buf, n});
    }
    std::string joined;
    joined.reserve(n);
    joined.append(number).append(1, '@').append(host);
    return mix(h, joined);
}

// Value of a generic parameter (e.g. "branch", "tag") in an oSIP parameter list, or nullptr.
const char* param_value(osip_list_t* params, const char* name) {
    // osip_uri_param_get_byname() takes a non-const name but only reads it.
    osip_generic_param_t* p = nullptr;
    if (osip_generic_param_get_byname(params, const_cast<char*>(name), &p) != OSIP_SUCCESS ||
        p == nullptr)
        return nullptr;
    return p->gvalue;
}

// Value of the first header called `name` or `compact` (oSIP compares names case-insensitively).
const char* other_header(const osip_message_t* msg, const char* name, const char* compact) {
    osip_header_t* h = nullptr;
    if (osip_message_header_get_byname(msg, name, 0, &h) >= 0 && h != nullptr) return h->hvalue;
    if (compact != nullptr && osip_message_header_get_byname(msg, compact, 0, &h) >= 0 &&
        h != nullptr)
        return h->hvalue;
    return nullptr;
}

struct FromDeleter {
    void operator()(osip_from_t* p) const noexcept { osip_from_free(p); }
};
struct CallInfoDeleter {
    void operator()(osip_call_info_t* p) const noexcept { osip_call_info_free(p); }
};
struct MessageDeleter {
    void operator()(osip_message_t* p) const noexcept { osip_message_free(p); }
};
using MessagePtr = std::unique_ptr<osip_message_t, MessageDeleter>;

// Parses a name-addr header value (Refer-To) and folds the URI host. False if oSIP rejects it.
bool fold_uri_host(std::uint64_t& h, const char* value) {
    osip_from_t* raw = nullptr;
    if (osip_from_init(&raw) != OSIP_SUCCESS) return false;
    std::unique_ptr<osip_from_t, FromDeleter> addr{raw};
    if (osip_from_parse(addr.get(), value) != OSIP_SUCCESS || addr->url == nullptr) return false;
    if (addr->url->host != nullptr) h = mix(h, std::string_view{addr->url->host});
    return true;
}

// Parses a "token *(;param)" header value (Event, Subscription-State) and folds the token.
bool fold_token(std::uint64_t& h, const char* value) {
    osip_content_disposition_t* raw = nullptr;
    if (osip_content_disposition_init(&raw) != OSIP_SUCCESS) return false;
    std::unique_ptr<osip_call_info_t, CallInfoDeleter> parsed{raw};
    if (osip_content_disposition_parse(parsed.get(), value) != OSIP_SUCCESS ||
        parsed->element == nullptr)
        return false;
    h = mix(h, std::string_view{parsed->element});
    return true;
}

std::optional<std::uint64_t> fold(const osip_message_t* msg) {
    std::uint64_t h = kSeed;
    if (MSG_IS_REQUEST(msg)) {
        if (msg->sip_method == nullptr) return std::nullopt;
        h = mix(h, std::string_view{msg->sip_method});
        if (msg->req_uri != nullptr && msg->req_uri->host != nullptr)
            h = mix(h, std::string_view{msg->req_uri->host});
    } else {
        h = mix(h, static_cast<std::uint64_t>(msg->status_code));
    }

    if (auto* via = static_cast<osip_via_t*>(osip_list_get(&msg->vias, 0)); via != nullptr) {
        if (via->host != nullptr) h = mix(h, std::string_view{via->host});
        if (const char* branch = param_value(&via->via_params, "branch")) h = mix(h, view(branch));
    }
    if (msg->from != nullptr)
        if (const char* tag = param_value(&msg->from->gen_params, "tag")) h = mix(h, view(tag));
    if (msg->to != nullptr)
        if (const char* tag = param_value(&msg->to->gen_params, "tag")) h = mix(h, view(tag));
    if (msg->call_id != nullptr) h = mix_call_id(h, *msg->call_id);
    if (msg->cseq != nullptr) {
        const std::string_view num = view(msg->cseq->number);
        std::uint64_t seq = 0;
        if (std::from_chars(num.data(), num.data() + num.size(), seq).ec != std::errc{})
            return std::nullopt;
        h = mix(h, seq);
        h = mix(h, view(msg->cseq->method));
    }

    if (const char* v = other_header(msg, "refer-to", "r"); v != nullptr && !fold_uri_host(h, v))
        return std::nullopt;
    if (const char* v = other_header(msg, "event", "o"); v != nullptr && !fold_token(h, v))
        return std::nullopt;
    if (const char* v = other_header(msg, "subscription-state", nullptr);
        v != nullptr && !fold_token(h, v))
        return std::nullopt;
    return h;
}

MessagePtr parse_message(std::string_view raw) {
    osip_message_t* msg = nullptr;
    if (osip_message_init(&msg) != OSIP_SUCCESS) return nullptr;
    MessagePtr owned{msg};
    if (osip_message_parse(owned.get(), raw.data(), raw.size()) != OSIP_SUCCESS) return nullptr;
    return owned;
}

class OsipKept final : public PeerMessage {
public:
    explicit OsipKept(MessagePtr msg) : msg_{std::move(msg)} {}

    std::size_t print(std::string& out) override {
        out.clear();
        osip_message_force_update(msg_.get());  // defeat oSIP's printed-text cache
        char* text = nullptr;
        std::size_t len = 0;
        if (osip_message_to_str(msg_.get(), &text, &len) != OSIP_SUCCESS || text == nullptr)
            return 0;
        out.assign(text, len);
        osip_free(text);
        return len;
    }

private:
    MessagePtr msg_;
};

}  // namespace

void osip_init() {
    static std::once_flag once;
    std::call_once(once, [] { parser_init(); });
}

PeerResult osip_parse(std::string_view raw) {
    MessagePtr msg = parse_message(raw);
    if (!msg) return {};
    const auto sum = fold(msg.get());
    if (!sum) return {};
    return {true, *sum};
}

// Returns a heap object owned by the caller (delete it), or nullptr if oSIP cannot parse raw.
PeerMessage* osip_keep(std::string_view raw) {
    MessagePtr msg = parse_message(raw);
    if (!msg) return nullptr;
    return new OsipKept{std::move(msg)};
}

}  // namespace referkit::bench
