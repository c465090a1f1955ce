#include "json_dump.hpp"

#include <string>

namespace referkit::cli {
namespace {

using json = nlohmann::ordered_json;

// JSON strings must be UTF-8; SIP text may hold any byte (RFC 4475 §3.1.1.2), so invalid bytes
// are shown as \xHH.
std::string text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
        if (ok && c >= 0x20 && c != 0x7f) {
            out.append(s.substr(i, len));
            i += len;
        } else if (ok && (c == '\t' || c == '\r' || c == '\n')) {
            out += static_cast<char>(c);
            ++i;
        } else {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
            ++i;
        }
    }
    return out;
}

json params(const ParamList& list) {
    json j = json::object();
    for (const Param& p : list) j[text(p.name)] = p.has_value ? json(text(p.value)) : json(true);
    return j;
}

std::string_view scheme_name(Scheme s) {
    switch (s) {
        case Scheme::sip: return "sip";
        case Scheme::sips: return "sips";
        case Scheme::tel: return "tel";
        case Scheme::other: return "other";
    }
    return "other";
}

json uri(const Uri& u) {
    json j;
    j["text"] = text(u.text);
    j["scheme"] = scheme_name(u.scheme);
    if (!u.user.empty()) j[u.scheme == Scheme::tel ? "number" : "user"] = text(u.user);
    if (!u.password.empty()) j["password"] = "***";
    if (!u.host.empty()) j["host"] = text(u.host);
    if (u.port) j["port"] = u.port;
    if (!u.params.empty()) j["params"] = params(u.params);
    if (!u.headers.empty()) {
        json h = json::object();
        std::string_view rest = u.headers;
        while (!rest.empty()) {
            std::size_t amp = rest.find('&');
            std::string_view one = rest.substr(0, amp);
            std::size_t eq = one.find('=');
            h[text(percent_decode(one.substr(0, eq)))] = text(percent_decode(eq == std::string_view::npos ? "" : one.substr(eq + 1)));
            if (amp == std::string_view::npos) break;
            rest = rest.substr(amp + 1);
        }
        j["headers"] = h;
    }
    return j;
}

json name_addr(const NameAddr& na) {
    json j;
    if (!na.display_name.empty()) j["display_name"] = text(na.display());
    j["uri"] = uri(na.uri);
    if (!na.params.empty()) j["params"] = params(na.params);
    if (!na.tag.empty()) j["tag"] = text(na.tag);
    return j;
}

json via(const Via& v) {
    json j;
    j["protocol"] = text(v.protocol);
    j["version"] = text(v.version);
    j["transport"] = text(v.transport);
    j["host"] = text(v.host);
    if (v.port) j["port"] = v.port;
    if (!v.branch.empty()) j["branch"] = text(v.branch);
    if (!v.received.empty()) j["received"] = text(v.received);
    if (v.has_rport) j["rport"] = v.rport ? json(v.rport) : json(true);
    if (!v.params.empty()) j["params"] = params(v.params);
    return j;
}

json dialog_ref(const DialogRef& d, bool replaces) {
    json j;
    j["call_id"] = text(d.call_id);
    j[replaces ? "to_tag" : "remote_tag"] = text(d.to_tag);
    j[replaces ? "from_tag" : "local_tag"] = text(d.from_tag);
    if (d.early_only) j["early_only"] = true;
    return j;
}

template <class T, class F>
void put(json& h, const std::expected<T, ParseError>& r, F&& f) {
    if (r) h["parsed"] = f(*r);
    else h["parse_error"] = to_json(r.error());
}

// Typed fields of one header, parsed from its value alone.
json typed(const HeaderField& h) {
    json j;
    std::string_view v = h.value;
    auto list = [&](auto&& parse, auto&& conv) {
        json arr = json::array();
        auto r = for_each_element(v, [&](std::string_view e, std::uint32_t) -> std::expected<void, ParseError> {
            auto x = parse(e);
            if (!x) return std::unexpected(x.error());
            arr.push_back(conv(*x));
            return {};
        });
        if (r) j["parsed"] = arr;
        else j["parse_error"] = to_json(r.error());
    };
    auto na = [](std::string_view e) { return parse_name_addr(e); };
    auto tokens = [&]() {
        json arr = json::array();
        auto r = split_list(v, ListOptions{.allow_empty = true});
        if (!r) { j["parse_error"] = to_json(r.error()); return; }
        for (std::string_view t : *r) arr.push_back(text(t));
        j["parsed"] = arr;
    };
    auto auth = [&]() {
        put(j, parse_auth(v), [](const AuthParams& a) {
            json o;
            o["scheme"] = text(a.scheme);
            json ps = json::object();
            for (const Param& p : a.params) {
                bool secret = iequals(p.name, "response") || iequals(p.name, "cnonce");
                ps[text(p.name)] = secret ? json("***") : json(text(unquote(p.value)));
            }
            o["params"] = ps;
            return o;
        });
    };
    // A lookup over some header ids, not a state machine: the rest fall to default.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wswitch-enum"
    switch (h.id) {
        case HeaderId::via: list([](std::string_view e) { return parse_via(e); }, via); break;
        case HeaderId::contact:
            if (v == "*") j["parsed"] = "*";
            else list(na, name_addr);
            break;
        case HeaderId::route:
        case HeaderId::record_route:
        case HeaderId::path:
        case HeaderId::service_route:
        case HeaderId::p_asserted_identity: list(na, name_addr); break;
        case HeaderId::from:
        case HeaderId::to:
        case HeaderId::refer_to:
        case HeaderId::referred_by:
        case HeaderId::reply_to: put(j, parse_name_addr(v), name_addr); break;
        case HeaderId::call_id: put(j, parse_call_id(v), [](std::string_view s) { return json(text(s)); }); break;
        case HeaderId::cseq:
            put(j, parse_cseq(v), [](const CSeq& c) { return json{{"number", c.number}, {"method", text(c.method_text)}}; });
            break;
        case HeaderId::max_forwards:
        case HeaderId::content_length:
        case HeaderId::expires:
        case HeaderId::min_expires:
            put(j, parse_uint(v, 0xffffffffu), [](std::uint32_t n) { return json(n); });
            break;
        case HeaderId::content_type:
            put(j, parse_content_type(v), [](const ContentType& c) {
                json o{{"type", text(c.type)}, {"subtype", text(c.subtype)}};
                if (!c.params.empty()) o["params"] = params(c.params);
                return o;
            });
            break;
        case HeaderId::event:
            put(j, parse_event(v), [](const Event& e) {
                json o{{"package", text(e.package)}};
                if (e.has_id) o["id"] = text(e.id);
                return o;
            });
            break;
        case HeaderId::subscription_state:
            put(j, parse_subscription_state(v), [](const SubscriptionState& s) {
                json o{{"state", text(s.value)}};
                if (s.expires) o["expires"] = *s.expires;
                if (!s.reason.empty()) o["reason"] = text(s.reason);
                if (s.retry_after) o["retry_after"] = *s.retry_after;
                return o;
            });
            break;
        case HeaderId::refer_sub: put(j, parse_refer_sub(v), [](const ReferSub& r) { return json(r.value); }); break;
        case HeaderId::replaces: put(j, parse_replaces(v), [](const DialogRef& d) { return dialog_ref(d, true); }); break;
        case HeaderId::target_dialog: put(j, parse_target_dialog(v), [](const DialogRef& d) { return dialog_ref(d, false); }); break;
        case HeaderId::supported:
        case HeaderId::require:
        case HeaderId::proxy_require:
        case HeaderId::unsupported:
        case HeaderId::allow:
        case HeaderId::allow_events: tokens(); break;
        case HeaderId::www_authenticate:
        case HeaderId::proxy_authenticate:
        case HeaderId::authorization:
        case HeaderId::proxy_authorization: auth(); break;
        default: break;
    }
#pragma GCC diagnostic pop
    return j;
}

}  // namespace

json to_json(const ParseError& e) {
    json j;
    j["offset"] = e.offset;
    j["code"] = std::string(to_string(e.code));
    j["reason"] = std::string(e.what);
    j["status"] = e.status;
    j["status_text"] = std::string(reason_phrase(e.status));
    return j;
}

json to_json(const Message& m) {
    json j;
    if (m.is_request()) {
        j["kind"] = "request";
        j["method"] = text(m.method_text());
        j["request_uri"] = uri(m.request_uri());
    } else {
        j["kind"] = "response";
        j["status"] = m.status();
        j["reason"] = text(m.reason());
    }
    json hs = json::array();
    for (const HeaderField& h : m.headers()) {
        json e;
        e["name"] = h.id == HeaderId::other ? text(h.name) : std::string(canonical_name(h.id));
        if (h.id != HeaderId::other && h.name != canonical_name(h.id)) e["as_written"] = text(h.name);
        e["value"] = text(h.value);
        json t = typed(h);
        for (auto it = t.begin(); it != t.end(); ++it) {
            json& slot = e[it.key()];
            if (it.key() == "parse_error") {
                json err = it.value();
                err["offset"] = err["offset"].get<std::uint32_t>() + m.offset_of(h.value);
                slot = err;
            } else {
                slot = it.value();
            }
        }
        hs.push_back(std::move(e));
    }
    j["headers"] = std::move(hs);
    j["body_length"] = m.body().size();
    j["size"] = m.bytes().size();
    return j;
}

json to_json(const Sipfrag& f) {
    json j;
    if (f.is_response) {
        j["kind"] = "response";
        j["status"] = f.status;
        j["reason"] = text(f.reason);
    } else {
        j["kind"] = "request";
        j["method"] = text(f.method);
        j["request_uri"] = text(f.request_uri);
    }
    json hs = json::array();
    for (const SipfragHeader& h : f.headers)
        hs.push_back(json{{"name", h.id == HeaderId::other ? text(h.name) : std::string(canonical_name(h.id))}, {"value", text(h.value)}});
    j["headers"] = std::move(hs);
    j["body_length"] = f.body.size();
    if (f.junk_offset) j["junk_offset"] = *f.junk_offset;
    return j;
}

}  // namespace referkit::cli
