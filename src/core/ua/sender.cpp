// Building and sending what the Stack originates (RFC 3261 §8.1.1, §12.2.1.1, §22.2).
#include "sender.hpp"

#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/next_hop.hpp"

namespace referkit::stack {

std::string hex(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = digits[v & 0xf];
        v >>= 4;
    }
    return s;
}

std::vector<std::pair<std::string_view, std::string_view>> views(const HeaderList& h) {
    std::vector<std::pair<std::string_view, std::string_view>> v;
    v.reserve(h.size());
    for (const auto& [n, val] : h) v.emplace_back(n, val);
    return v;
}

namespace {

// Extra headers of a request: Route goes with the request's routes (after the route set, as it
// did on the wire), every other header in order.
void append_extra(OutgoingRequest& r, const HeaderList& extra) {
    for (const auto& [name, value] : extra) {
        if (lookup_header(name) == HeaderId::route) r.routes.push_back(value);
        else r.headers.emplace_back(name, value);
    }
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& t : items) {
        if (!out.empty()) out += ", ";
        out += t;
    }
    return out;
}

}  // namespace

void Sender::set_contact_hostport(Transport t, std::string hostport) {
    contact_hostport_[static_cast<std::size_t>(t)] = std::move(hostport);
}

std::string Sender::contact_value(Transport t) const {
    const std::string& set = contact_hostport_[static_cast<std::size_t>(t)];
    const std::string& hp = set.empty() ? s_.config.ua.transaction.sent_by : set;
    std::string v = "<sip:";
    if (!s_.config.ua.contact_user.empty()) {
        v += s_.config.ua.contact_user;
        v += '@';
    }
    v += hp;
    if (t != Transport::udp) {
        v += ";transport=";
        for (char ch : transport_name(t)) v += static_cast<char>(ch | 0x20);
    }
    v += '>';
    return v;
}

std::string Sender::allow_value() const { return referkit::allow_value(s_.config.ua.app_methods); }

// §11.2: the same capabilities whether or not the OPTIONS is inside a dialog.
HeaderList Sender::options_answer_headers() const {
    HeaderList h{{"Allow", allow_value()}};
    if (std::string acc = joined(s_.config.ua.accept); !acc.empty()) h.emplace_back("Accept", std::move(acc));
    if (std::string sup = joined(s_.config.ua.supported); !sup.empty()) h.emplace_back("Supported", std::move(sup));
    return h;
}

std::string Sender::local_uri() const {
    const UserAgentConfig& c = s_.config.ua;
    std::string s;
    if (!c.display_name.empty()) {
        s += '"';
        for (char ch : c.display_name) {
            if (ch == '"' || ch == '\\') s += '\\';
            s += ch;
        }
        s += "\" ";
    }
    s += '<';
    s += c.aor;
    s += '>';
    return s;
}

std::string Sender::from_value(const std::string& tag) const { return local_uri() + ";tag=" + tag; }

bool Sender::has_header(const HeaderList& h, std::string_view name) {
    const HeaderId id = lookup_header(name);
    return std::any_of(h.begin(), h.end(), [&](const auto& p) {
        return id != HeaderId::other ? lookup_header(p.first) == id : iequals(p.first, name);
    });
}

void Sender::add_standard(HeaderList& h, const HeaderList& extra, bool allow_supported) const {
    const UserAgentConfig& c = s_.config.ua;
    if (!c.user_agent.empty() && !has_header(extra, "User-Agent")) h.emplace_back("User-Agent", c.user_agent);
    if (allow_supported) {
        if (!has_header(extra, "Allow")) h.emplace_back("Allow", allow_value());
        if (!c.supported.empty() && !has_header(extra, "Supported")) h.emplace_back("Supported", joined(c.supported));
    }
}

std::expected<Destination, UaError> Sender::destination_for(std::string_view uri_text) const {
    auto u = parse_uri(uri_text, UriContext::name_addr, s_.config.ua.transaction.limits);
    if (!u) return std::unexpected(UaError::invalid_target);
    auto d = next_hop(*u, NextHopPolicy{.default_transport = s_.config.ua.default_transport});
    if (!d) return std::unexpected(UaError::invalid_target);
    return *d;
}

std::expected<Destination, UaError> Sender::dialog_destination(const DialogEntry& d) const {
    const DialogRouting r = d.dialog.routing();
    auto u = parse_uri(r.next_hop_uri, UriContext::name_addr, s_.config.ua.transaction.limits);
    if (!u) return std::unexpected(UaError::invalid_target);
    auto dest = next_hop(*u, NextHopPolicy{.default_transport = d.transport});
    if (!dest) return std::unexpected(UaError::invalid_target);
    // §18.1.1 / RFC 5923 spirit: reuse the connection the dialog was made on when it is still open.
    if (is_reliable(dest->transport) && dest->transport == d.transport) dest->connection = d.connection;
    return *dest;
}

std::expected<Outgoing, UaError> Sender::out_of_dialog(std::string_view method, std::string_view target,
                                                       const HeaderList& extra, bool contact, bool allow_supported) {
    const UserAgentConfig& c = s_.config.ua;
    auto ru = parse_uri(target, UriContext::request_uri, c.transaction.limits);
    if (!ru || (ru->scheme != Scheme::sip && ru->scheme != Scheme::sips)) return std::unexpected(UaError::invalid_target);
    // §8.1.2: the first preloaded route (loose routing), else the Request-URI.
    auto dest = destination_for(c.route_set.empty() ? target : std::string_view(c.route_set.front()));
    if (!dest) return std::unexpected(dest.error());
    Outgoing o;
    o.destination = *dest;
    OutgoingRequest& r = o.request;
    r.method = std::string(method);
    r.request_uri = std::string(target);
    r.call_id = hex(s_.random()) + hex(s_.random());
    o.from_tag = hex(s_.random());
    o.from_uri = local_uri();
    o.to_uri = std::string("<").append(target).append(">");
    r.cseq = 1;  // §8.1.1.5
    for (const std::string& route : c.route_set) r.routes.push_back("<" + route + ">");
    r.from = from_value(o.from_tag);
    r.to = o.to_uri;
    if (contact && !has_header(extra, "Contact")) r.headers.emplace_back("Contact", contact_value(o.destination.transport));
    add_standard(r.headers, extra, allow_supported);
    append_extra(r, extra);
    return o;
}

Outgoing Sender::in_dialog(DialogEntry& d, std::string_view method, const HeaderList& extra, bool contact,
                           bool allow_supported) {
    Outgoing o;
    const DialogInfo& i = d.dialog.info();
    o.dialog = d.id;
    o.from_tag = i.local_tag;
    o.from_uri = i.local_uri;
    o.to_uri = i.remote_uri;
    o.request = d.dialog.request(method, d.dialog.next_local_cseq());  // §12.2.1.1
    if (auto dest = dialog_destination(d)) o.destination = *dest;
    else o.destination = Destination{.transport = d.transport, .remote = {}, .connection = d.connection};
    if (contact && !has_header(extra, "Contact"))
        o.request.headers.emplace_back("Contact", contact_value(o.destination.transport));
    add_standard(o.request.headers, extra, allow_supported);
    append_extra(o.request, extra);
    return o;
}

std::expected<TransactionId, UaError> Sender::send(const Outgoing& o, Time now) {
    if (o.destination.remote.host.empty()) return std::unexpected(UaError::invalid_target);
    auto id = s_.txl.send_request(o.request, o.destination, now);
    if (!id) {
        switch (id.error()) {
            case TransactionError::invalid_request:
            case TransactionError::invalid_response: return std::unexpected(UaError::invalid_message);
            case TransactionError::no_such_transaction:
            case TransactionError::wrong_state:
            case TransactionError::too_many_transactions:
            case TransactionError::branch_collision: return std::unexpected(UaError::transaction_failed);
        }
        return std::unexpected(UaError::transaction_failed);
    }
    return *id;
}

std::optional<TransactionId> Sender::retry_with_credentials(Outgoing& o, const Message& r, Time now) {
    const UserAgentConfig& c = s_.config.ua;
    if (!c.digest_hash || c.credentials.empty()) return std::nullopt;
    auto challenges = digest_challenges(r);
    if (!challenges) return std::nullopt;
    bool added = false;
    for (const DigestChallenge& ch : *challenges) {
        const Credentials* cred = nullptr;
        for (const Credentials& k : c.credentials)
            if (credentials_match(k, ch)) {
                cred = &k;
                break;
            }
        if (cred == nullptr) continue;
        const auto key = std::pair{ch.proxy, ch.realm};
        if (std::find(o.answered.begin(), o.answered.end(), key) != o.answered.end()) {
            // §22.2/RFC 7616 §3.4: the same realm again means the credentials were refused, unless
            // the server only found the nonce stale; one stale retry.
            if (!ch.stale || o.stale_retries >= 1) continue;
            ++o.stale_retries;
        } else {
            o.answered.push_back(key);
        }
        const std::uint32_t nc = ++o.nonce_count[ch.nonce];
        const std::string cnonce = hex(s_.random());
        std::string value = digest_authorization(ch, *cred,
                                                 DigestAnswer{.method = o.request.method, .uri = o.request.request_uri,
                                                              .body = o.request.body, .nc = nc, .cnonce = cnonce},
                                                 c.digest_hash);
        std::erase_if(o.auth, [&](const Outgoing::Auth& a) { return a.proxy == ch.proxy && a.realm == ch.realm; });
        o.auth.push_back(Outgoing::Auth{.proxy = ch.proxy, .realm = ch.realm,
                                        .header = std::string(digest_header_name(ch)), .value = std::move(value)});
        added = true;
    }
    if (!added) return std::nullopt;
    // The request's credentials are those of this attempt, after its other headers.
    std::erase_if(o.request.headers, [](const auto& h) {
        const HeaderId id = lookup_header(h.first);
        return id == HeaderId::authorization || id == HeaderId::proxy_authorization;
    });
    for (const Outgoing::Auth& a : o.auth) o.request.headers.emplace_back(a.header, a.value);
    // §22.2: the retry is a new request: CSeq advances (in a dialog, the dialog's local CSeq).
    if (DialogEntry* d = o.dialog ? s_.dialogs.find(o.dialog) : nullptr) o.request.cseq = d->dialog.next_local_cseq();
    else ++o.request.cseq;
    auto id = send(o, now);
    if (!id) return std::nullopt;
    return *id;
}

void Sender::respond_simple(TransactionId tx, int status, const HeaderList& headers, Time now,
                            std::string_view content_type, std::string_view body) {
    ResponseSpec spec;
    spec.status = status;
    auto v = views(headers);
    spec.headers = v;
    spec.content_type = content_type;
    spec.body = body;
    (void)s_.txl.respond(tx, spec, now);
}

}  // namespace referkit::stack
