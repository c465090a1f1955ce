// UserAgentCore: inputs and dispatch, dialogs, requests with no usage, generic requests and
// digest retries. INVITE sessions are in ua_session.cpp.
#include "referkit/core/user_agent_core.hpp"

#include <algorithm>

#include "referkit/core/header_id.hpp"
#include "referkit/core/next_hop.hpp"
#include "referkit/core/validate.hpp"
#include "referkit/core/writer.hpp"
#include "ua_impl.hpp"

namespace referkit {

namespace ua {
std::string hex(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = digits[v & 0xf];
        v >>= 4;
    }
    return s;
}
}  // namespace ua

using namespace ua;

namespace {

std::string dialog_key(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag) {
    std::string k(call_id);
    k.push_back('\n');
    k.append(local_tag);
    k.push_back('\n');
    k.append(remote_tag);
    return k;
}

TransactionOptions shared_random(UserAgentConfig& c, std::shared_ptr<std::function<std::uint64_t()>>& out) {
    out = std::make_shared<std::function<std::uint64_t()>>(std::move(c.transaction.random));
    TransactionOptions o = c.transaction;
    if (*out) {
        o.random = [r = out] { return (*r)(); };
    }  // else: unset, the TransactionLayer aborts (precondition)
    return o;
}

bool is_target_refresh(Method m) {
    // §12.2 (INVITE), RFC 3311 (UPDATE), RFC 6665 §4.3 (SUBSCRIBE, NOTIFY), RFC 3515 §2.4.1 (REFER:
    // it creates a subscription, so it carries exactly one Contact).
    return m == Method::invite || m == Method::update || m == Method::subscribe || m == Method::notify ||
           m == Method::refer;
}

// What the core does with a received request, by method: the few it handles itself, the rest go to
// the application (if it handles the method; 405 otherwise).
enum class Dispatch : std::uint8_t { invite, bye, options, ignore, application };
Dispatch dispatch_of(Method m) {
    switch (m) {
        case Method::invite: return Dispatch::invite;
        case Method::bye: return Dispatch::bye;
        case Method::options: return Dispatch::options;
        case Method::ack:
        case Method::cancel: return Dispatch::ignore;
        case Method::other:
        case Method::register_:
        case Method::refer:
        case Method::notify:
        case Method::subscribe:
        case Method::info:
        case Method::message:
        case Method::prack:
        case Method::update:
        case Method::publish: return Dispatch::application;
    }
    return Dispatch::application;
}

// (Call-ID, From tag, CSeq) of a NOTIFY: what identifies its retransmissions (§17.2.3 without a branch).
std::string notify_key(const Message& m) {
    std::string k(m.call_id());
    k.push_back('\n');
    k.append(m.from().tag);
    k.push_back('\n');
    k.append(std::to_string(m.cseq().number));
    return k;
}

}  // namespace

UserAgentCore::Impl::Impl(UserAgentConfig c) : config(std::move(c)), txl(shared_random(config, random_source)) {}

std::vector<std::pair<std::string_view, std::string_view>> UserAgentCore::Impl::views(const HeaderList& h) const {
    std::vector<std::pair<std::string_view, std::string_view>> v;
    v.reserve(h.size());
    for (const auto& [n, val] : h) v.emplace_back(n, val);
    return v;
}

std::string UserAgentCore::Impl::contact_value(Transport t) const {
    auto it = contact_hostport.find(t);
    std::string hp = it != contact_hostport.end() ? it->second : config.transaction.sent_by;
    std::string v = "<sip:";
    if (!config.contact_user.empty()) {
        v += config.contact_user;
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

// §11.2: the same capabilities whether or not the OPTIONS is inside a dialog.
HeaderList UserAgentCore::Impl::options_answer_headers() const {
    HeaderList h{{"Allow", allow_value()}};
    auto joined = [](const std::vector<std::string>& items) {
        std::string out;
        for (const std::string& t : items) out += (out.empty() ? "" : ", ") + t;
        return out;
    };
    if (std::string acc = joined(config.accept); !acc.empty()) h.emplace_back("Accept", std::move(acc));
    if (std::string sup = joined(config.supported); !sup.empty()) h.emplace_back("Supported", std::move(sup));
    return h;
}

bool UserAgentCore::Impl::refuse_unhandled_method(const TransactionEvent& ev, Time now) {
    const Method m = ev.message->method();
    if (std::find(config.app_methods.begin(), config.app_methods.end(), m) != config.app_methods.end()) return false;
    respond_simple(ev.id, 405, {{"Allow", allow_value()}}, now);  // §8.2.1
    return true;
}

std::string allow_value(std::span<const Method> app_methods) {
    std::string s = "INVITE, ACK, BYE, CANCEL, OPTIONS";
    for (Method m : app_methods) {
        if (m == Method::invite || m == Method::ack || m == Method::bye || m == Method::cancel ||
            m == Method::options || method_name(m).empty())
            continue;
        s += ", ";
        s += method_name(m);
    }
    return s;
}

std::string UserAgentCore::Impl::allow_value() const { return referkit::allow_value(config.app_methods); }

std::string UserAgentCore::Impl::local_uri() const {
    std::string s;
    if (!config.display_name.empty()) {
        s += '"';
        for (char ch : config.display_name) {
            if (ch == '"' || ch == '\\') s += '\\';
            s += ch;
        }
        s += "\" ";
    }
    s += '<';
    s += config.aor;
    s += '>';
    return s;
}

std::string UserAgentCore::Impl::from_value(const std::string& tag) const { return local_uri() + ";tag=" + tag; }

bool UserAgentCore::Impl::has_header(const HeaderList& h, std::string_view name) {
    const HeaderId id = lookup_header(name);
    return std::any_of(h.begin(), h.end(), [&](const auto& p) {
        return id != HeaderId::other ? lookup_header(p.first) == id : iequals(p.first, name);
    });
}

void UserAgentCore::Impl::add_standard(HeaderList& h, const HeaderList& extra, bool allow_supported) const {
    if (!config.user_agent.empty() && !has_header(extra, "User-Agent")) h.emplace_back("User-Agent", config.user_agent);
    if (allow_supported) {
        if (!has_header(extra, "Allow")) h.emplace_back("Allow", allow_value());
        if (!config.supported.empty() && !has_header(extra, "Supported")) {
            std::string s;
            for (const std::string& t : config.supported) {
                if (!s.empty()) s += ", ";
                s += t;
            }
            h.emplace_back("Supported", s);
        }
    }
    for (const auto& p : extra) h.push_back(p);
}

std::expected<Destination, UaError> UserAgentCore::Impl::destination_for(std::string_view uri_text) const {
    auto u = parse_uri(uri_text, UriContext::name_addr, config.transaction.limits);
    if (!u) return std::unexpected(UaError::invalid_target);
    auto d = next_hop(*u, NextHopPolicy{.default_transport = config.default_transport});
    if (!d) return std::unexpected(UaError::invalid_target);
    return *d;
}

std::expected<Destination, UaError> UserAgentCore::Impl::dialog_destination(const DialogEntry& d) const {
    const DialogRouting r = d.dialog.routing();
    auto u = parse_uri(r.next_hop_uri, UriContext::name_addr, config.transaction.limits);
    if (!u) return std::unexpected(UaError::invalid_target);
    auto dest = next_hop(*u, NextHopPolicy{.default_transport = d.transport});
    if (!dest) return std::unexpected(UaError::invalid_target);
    // §18.1.1 / RFC 5923 spirit: reuse the connection the dialog was made on when it is still open.
    if (is_reliable(dest->transport) && dest->transport == d.transport) dest->connection = d.connection;
    return *dest;
}

std::expected<Outgoing, UaError> UserAgentCore::Impl::out_of_dialog(std::string_view method, std::string_view target,
                                                                    const HeaderList& extra, bool contact,
                                                                    bool allow_supported) {
    auto ru = parse_uri(target, UriContext::request_uri, config.transaction.limits);
    if (!ru || (ru->scheme != Scheme::sip && ru->scheme != Scheme::sips)) return std::unexpected(UaError::invalid_target);
    Outgoing o;
    o.method = std::string(method);
    o.request_uri = std::string(target);
    // §8.1.2: the first preloaded route (loose routing), else the Request-URI.
    auto dest = destination_for(config.route_set.empty() ? target : std::string_view(config.route_set.front()));
    if (!dest) return std::unexpected(dest.error());
    o.destination = *dest;
    o.call_id = hex(random()) + hex(random());
    o.from_tag = hex(random());
    o.from_uri = local_uri();
    o.to_uri = "<" + std::string(target) + ">";
    o.cseq = 1;
    for (const std::string& r : config.route_set) o.headers.emplace_back("Route", "<" + r + ">");
    o.headers.emplace_back("Max-Forwards", "70");
    o.headers.emplace_back("From", from_value(o.from_tag));
    o.headers.emplace_back("To", o.to_uri);
    o.headers.emplace_back("Call-ID", o.call_id);
    if (contact && !has_header(extra, "Contact")) o.headers.emplace_back("Contact", contact_value(o.destination.transport));
    add_standard(o.headers, extra, allow_supported);
    return o;
}

Outgoing UserAgentCore::Impl::in_dialog(DialogEntry& d, std::string_view method, const HeaderList& extra, bool contact,
                                        bool allow_supported) {
    Outgoing o;
    const DialogRouting r = d.dialog.routing();
    const DialogInfo& i = d.dialog.info();
    o.method = std::string(method);
    o.request_uri = r.request_uri;
    o.dialog = d.id;
    o.call_id = i.call_id;
    o.from_tag = i.local_tag;
    o.from_uri = i.local_uri;
    o.to_uri = i.remote_uri;
    for (const std::string& route : r.routes) o.headers.emplace_back("Route", route);
    o.headers.emplace_back("Max-Forwards", "70");
    o.headers.emplace_back("From", d.dialog.from_value());
    o.headers.emplace_back("To", d.dialog.to_value());
    o.headers.emplace_back("Call-ID", i.call_id);
    o.cseq = d.dialog.next_local_cseq();  // §12.2.1.1
    if (auto dest = dialog_destination(d)) o.destination = *dest;
    else o.destination = Destination{.transport = d.transport, .remote = {}, .connection = d.connection};
    if (contact && !has_header(extra, "Contact")) o.headers.emplace_back("Contact", contact_value(o.destination.transport));
    add_standard(o.headers, extra, allow_supported);
    return o;
}

std::expected<TransactionId, UaError> UserAgentCore::Impl::send(Outgoing& o, Time now) {
    if (o.destination.remote.host.empty()) return std::unexpected(UaError::invalid_target);
    MessageWriter w = MessageWriter::request(o.method, o.request_uri);
    for (const auto& [n, v] : o.headers) w.header(n, v);
    w.header(HeaderId::cseq, std::to_string(o.cseq) + " " + o.method);
    for (const Outgoing::Auth& a : o.auth) w.header(a.header, a.value);
    if (!o.body.empty() || !o.content_type.empty()) w.body(o.content_type, o.body);
    auto bytes = w.finish();
    if (!bytes) return std::unexpected(UaError::invalid_message);
    auto id = txl.send_request(*bytes, o.destination, now);
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

std::optional<TransactionId> UserAgentCore::Impl::retry_with_credentials(Outgoing& o, const Message& r, Time now) {
    if (!config.digest_hash || config.credentials.empty()) return std::nullopt;
    auto challenges = digest_challenges(r);
    if (!challenges) return std::nullopt;
    bool added = false;
    for (const DigestChallenge& c : *challenges) {
        const Credentials* cred = nullptr;
        for (const Credentials& k : config.credentials)
            if (credentials_match(k, c)) {
                cred = &k;
                break;
            }
        if (cred == nullptr) continue;
        const auto key = std::pair{c.proxy, c.realm};
        if (std::find(o.answered.begin(), o.answered.end(), key) != o.answered.end()) {
            // §22.2/RFC 7616 §3.4: the same realm again means the credentials were refused, unless
            // the server only found the nonce stale; one stale retry.
            if (!c.stale || o.stale_retries >= 1) continue;
            ++o.stale_retries;
        } else {
            o.answered.push_back(key);
        }
        const std::uint32_t nc = ++o.nonce_count[c.nonce];
        const std::string cnonce = hex(random());
        std::string value = digest_authorization(
            c, *cred, DigestAnswer{.method = o.method, .uri = o.request_uri, .body = o.body, .nc = nc, .cnonce = cnonce},
            config.digest_hash);
        std::erase_if(o.auth, [&](const Outgoing::Auth& a) { return a.proxy == c.proxy && a.realm == c.realm; });
        o.auth.push_back(Outgoing::Auth{.proxy = c.proxy, .realm = c.realm,
                                        .header = std::string(digest_header_name(c)), .value = std::move(value)});
        added = true;
    }
    if (!added) return std::nullopt;
    // §22.2: the retry is a new request: CSeq advances (in a dialog, the dialog's local CSeq).
    if (DialogEntry* d = o.dialog ? dialog(o.dialog) : nullptr) o.cseq = d->dialog.next_local_cseq();
    else ++o.cseq;
    auto id = send(o, now);
    if (!id) return std::nullopt;
    return *id;
}

DialogEntry* UserAgentCore::Impl::find_dialog(std::string_view call_id, std::string_view local_tag,
                                              std::string_view remote_tag) {
    auto it = dialog_index.find(dialog_key(call_id, local_tag, remote_tag));
    if (it == dialog_index.end()) return nullptr;
    return dialog(DialogId{it->second});
}

DialogEntry* UserAgentCore::Impl::dialog(DialogId id) {
    auto it = dialogs.find(id.value);
    return it == dialogs.end() ? nullptr : &it->second;
}

DialogEntry& UserAgentCore::Impl::add_dialog(Dialog d, Transport t, ConnectionId c, std::size_t usages) {
    const DialogId id{next_dialog++};
    const DialogInfo& i = d.info();
    std::string key = dialog_key(i.call_id, i.local_tag, i.remote_tag);
    DialogEntry& e = dialogs[id.value];
    e.id = id;
    e.dialog = std::move(d);
    e.usages = usages;
    e.transport = t;
    e.connection = c;
    e.key = key;
    dialog_index[key] = id.value;
    return e;
}

void UserAgentCore::Impl::release_usage(DialogId id) {
    auto it = dialogs.find(id.value);
    if (it == dialogs.end()) return;
    if (it->second.usages > 0) --it->second.usages;
    if (it->second.usages > 0) return;
    // RFC 5057 §3: a dialog ends with its last usage.
    auto ix = dialog_index.find(it->second.key);
    if (ix != dialog_index.end() && ix->second == id.value) dialog_index.erase(ix);
    dialogs.erase(it);
    emit(UaEvent{.kind = UaEventKind::dialog_ended, .session = {}, .dialog = id, .request = {}, .incoming = {},
                 .message = std::nullopt, .method = {}, .status = 0, .final = false, .cause = EndCause::failed,
                 .direction = MediaDirection::sendrecv});
}

void UserAgentCore::Impl::respond_simple(TransactionId tx, int status, const HeaderList& headers, Time now,
                                         std::string_view content_type, std::string_view body) {
    ResponseSpec spec;
    spec.status = status;
    auto v = views(headers);
    spec.headers = v;
    spec.content_type = content_type;
    spec.body = body;
    (void)txl.respond(tx, spec, now);
}

// ---------------------------------------------------------------- transaction events

void UserAgentCore::Impl::drain(Time now) {
    for (int guard = 0; guard < 1000000; ++guard) {
        auto ev = txl.poll_event();
        if (!ev) return;
        handle(*ev, now);
    }
}

void UserAgentCore::Impl::handle(TransactionEvent& ev, Time now) {
    switch (ev.kind) {
        case EventKind::request: on_request(ev, now); return;
        case EventKind::ack: on_ack(ev, now); return;
        case EventKind::cancel: on_cancel(ev, now); return;
        case EventKind::response:
        case EventKind::timeout:
        case EventKind::transport_error: {
            auto sit = servers.find(ev.id.value);
            if (sit != servers.end()) {
                // Server side: Timer H (no ACK for a non-2xx final) or a transport failure.
                if (ev.kind == EventKind::transport_error && sit->second.role == ServerRole::invite) {
                    if (Session* s = session(SessionId{sit->second.owner});
                        s != nullptr && s->state == SessionState::incoming && s->server_tx == ev.id)
                        end_session(*s, EndCause::failed, 503, std::nullopt);
                }
                return;
            }
            auto cit = clients.find(ev.id.value);
            if (cit == clients.end()) return;
            const Message* m = ev.message ? &*ev.message : nullptr;
            if (m == nullptr && ev.kind != EventKind::response) return;  // nothing new to report
            ClientOwner& owner = cit->second;
            if (ev.kind == EventKind::response && ev.repeated) {
                if (m != nullptr) on_repeated_2xx(owner, *m, now);
                return;
            }
            switch (owner.role) {
                case ClientRole::invite:
                    if (Session* s = session(SessionId{owner.owner}); s != nullptr && s->invite_tx == ev.id)
                        on_invite_response(*s, ev, m, now);
                    return;
                case ClientRole::reinvite:
                    if (Session* s = session(SessionId{owner.owner}); s != nullptr && s->reinvite_tx == ev.id)
                        on_reinvite_response(*s, ev, m, now);
                    return;
                case ClientRole::bye:
                    if (Session* s = session(SessionId{owner.owner}); s != nullptr && s->bye_tx == ev.id)
                        on_bye_response(*s, ev, m, now);
                    return;
                case ClientRole::request: {
                    auto rit = requests.find(owner.owner);
                    if (rit != requests.end() && rit->second.tx == ev.id) on_request_response(rit->second, ev, m, now);
                    return;
                }
                case ClientRole::cancel:
                case ClientRole::detached: return;
            }
            return;
        }
        case EventKind::terminated: {
            clients.erase(ev.id.value);
            auto sit = servers.find(ev.id.value);
            if (sit == servers.end()) return;
            const ServerOwner owner = sit->second;
            servers.erase(sit);
            switch (owner.role) {
                case ServerRole::incoming: {
                    auto it = incoming.find(owner.owner);
                    if (it != incoming.end() && it->second.tx == ev.id) incoming.erase(it);
                    return;
                }
                case ServerRole::invite:
                case ServerRole::reinvite: {
                    Session* s = session(SessionId{owner.owner});
                    if (s == nullptr) return;
                    if (s->server_tx == ev.id) {
                        s->server_tx = {};
                        if (s->state == SessionState::incoming) end_session(*s, EndCause::failed, 0, std::nullopt);
                    }
                    return;
                }
            }
            return;
        }
    }
}

void UserAgentCore::Impl::on_request(TransactionEvent& ev, Time now) {
    if (!ev.message) return;
    const Message& m = *ev.message;
    // §8.2.1-§8.2.3: method, scheme, Require, Content-Type.
    std::vector<Method> methods = {Method::invite, Method::ack, Method::bye, Method::cancel, Method::options};
    for (Method x : config.app_methods)
        if (std::find(methods.begin(), methods.end(), x) == methods.end()) methods.push_back(x);
    std::vector<std::string_view> ext(config.supported.begin(), config.supported.end());
    std::vector<std::string_view> types(config.accept.begin(), config.accept.end());
    if (auto rej = validate_request(m, UasCapabilities{.methods = methods, .extensions = ext, .content_types = types,
                                                        .answer_types = types})) {
        HeaderList h;
        if (!rej->unsupported.empty()) h.emplace_back("Unsupported", rej->unsupported);
        if (!rej->allow.empty()) h.emplace_back("Allow", rej->allow);
        if (!rej->accept.empty()) h.emplace_back("Accept", rej->accept);
        respond_simple(ev.id, rej->error.status, h, now);
        return;
    }
    if (m.method() == Method::notify && is_duplicate_final_notify(m, now)) {
        respond_simple(ev.id, 200, {}, now);  // §17.2.2 beyond the transaction's life: no event
        return;
    }
    if ((m.method() == Method::notify || m.method() == Method::subscribe) && !config.event_packages.empty()) {
        // RFC 6665 §8.2.2: a package we do not implement is 489, with the ones we do.
        if (auto e = m.event(); e && std::none_of(config.event_packages.begin(), config.event_packages.end(),
                                                   [&](const std::string& p) { return iequals(p, e->package); })) {
            std::string allow;
            for (const std::string& p : config.event_packages) allow += (allow.empty() ? "" : ", ") + p;
            respond_simple(ev.id, 489, {{"Allow-Events", std::move(allow)}}, now);
            return;
        }
    }
    if (!m.to().tag.empty()) {
        DialogEntry* d = find_dialog(m.call_id(), m.to().tag, m.from().tag);
        if (d == nullptr && m.method() == Method::notify && notify_creates_dialog(ev, now)) return;
        if (d == nullptr) {
            respond_simple(ev.id, 481, {}, now);  // §12.2.2
            return;
        }
        on_request_in_dialog(ev, *d, now);
        return;
    }
    switch (dispatch_of(m.method())) {
        case Dispatch::invite: on_invite(ev, now); return;
        case Dispatch::options: respond_simple(ev.id, 200, options_answer_headers(), now); return;  // §11.2
        case Dispatch::bye: respond_simple(ev.id, 481, {}, now); return;  // §15.1.2
        case Dispatch::ignore: return;
        case Dispatch::application: break;
    }
    if (refuse_unhandled_method(ev, now)) return;
    new_incoming(ev, {}, {}, now);
}

bool UserAgentCore::Impl::notify_creates_dialog(TransactionEvent& ev, Time now) {
    // RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx to the request that created the
    // subscription, and a forked request gets NOTIFYs from several notifiers: each NOTIFY with a new
    // From tag (our To tag matching the request's From tag) creates a dialog of its own, while the
    // request waits and for 64*T1 after its 2xx.
    const Message& m = *ev.message;
    Request* live = nullptr;
    RequestId creator{};
    std::uint32_t cseq = 0;
    for (auto& [rid, r] : requests) {
        if (!r.creates_dialog || r.out.call_id != m.call_id() || r.out.from_tag != m.to().tag) continue;
        live = &r;
        creator = r.id;
        cseq = r.out.cseq;
        break;
    }
    if (live == nullptr) {
        forget_forkable(now);
        for (const Forkable& f : forkable) {
            if (f.call_id != m.call_id() || f.from_tag != m.to().tag) continue;
            creator = f.request;
            cseq = f.cseq;
            break;
        }
    }
    if (!creator || dialogs.size() >= config.max_dialogs) return false;
    auto made = Dialog::as_uas(m, std::string(m.to().tag));
    if (!made) return false;
    made->set_local_cseq(cseq);
    made->confirm(nullptr);
    DialogEntry& e = add_dialog(std::move(*made), ev.source.transport, ev.source.connection, 1);
    if (live != nullptr && !live->dialog) {
        live->dialog = e.id;
        live->usage_given = true;
    }
    new_incoming(ev, e.id, creator, now);
    return true;
}

void UserAgentCore::Impl::remember_forkable(const Request& r, Time now) {
    forget_forkable(now);
    if (config.max_requests == 0) return;
    while (forkable.size() >= config.max_requests) forkable.pop_front();
    forkable.push_back(Forkable{.request = r.id, .call_id = r.out.call_id, .from_tag = r.out.from_tag, .cseq = r.out.cseq,
                                .until = now + 64 * config.transaction.t1});
}

void UserAgentCore::Impl::forget_forkable(Time now) {
    while (!forkable.empty() && forkable.front().until <= now) forkable.pop_front();
}

void UserAgentCore::Impl::forget_final_notifies(Time now) {
    while (!final_notifies.empty() && final_notifies.front().second <= now) final_notifies.pop_front();
}

void UserAgentCore::Impl::remember_final_notify(const Message& m, Time now) {
    const Duration keep = config.final_notify_memory.value_or(64 * config.transaction.t1);
    forget_final_notifies(now);
    if (keep <= Duration::zero() || config.max_final_notifies == 0) return;
    while (final_notifies.size() >= config.max_final_notifies) final_notifies.pop_front();
    final_notifies.emplace_back(notify_key(m), now + keep);
}

bool UserAgentCore::Impl::is_duplicate_final_notify(const Message& m, Time now) {
    forget_final_notifies(now);
    if (final_notifies.empty()) return false;
    const std::string k = notify_key(m);
    return std::any_of(final_notifies.begin(), final_notifies.end(), [&](const auto& p) { return p.first == k; });
}

void UserAgentCore::Impl::new_incoming(TransactionEvent& ev, DialogId d, RequestId request, Time now) {
    if (incoming.size() + requests.size() >= config.max_requests) {
        respond_simple(ev.id, 503, {{"Retry-After", "5"}}, now);
        return;
    }
    const IncomingId id{next_incoming++};
    std::optional<Time> answer_by;
    if (config.unanswered_request_timeout.count() > 0) answer_by = now + config.unanswered_request_timeout;
    incoming.emplace(id.value, Incoming{.id = id, .tx = ev.id, .request = *ev.message, .source = ev.source, .dialog = d,
                                        .answer_by = answer_by});
    servers[ev.id.value] = ServerOwner{.role = ServerRole::incoming, .owner = id.value};
    emit(UaEvent{.kind = UaEventKind::request, .session = {}, .dialog = d, .request = request, .incoming = id,
                 .message = ev.message, .method = std::string(ev.message->method_text()), .status = 0, .final = false,
                 .cause = EndCause::failed, .direction = MediaDirection::sendrecv});
}

void UserAgentCore::Impl::on_request_in_dialog(TransactionEvent& ev, DialogEntry& d, Time now) {
    const Message& m = *ev.message;
    if (m.method() != Method::ack && !d.dialog.accept_remote_cseq(m.cseq().number)) {
        respond_simple(ev.id, 500, {}, now);  // §12.2.2: lower or equal CSeq
        return;
    }
    switch (dispatch_of(m.method())) {
        case Dispatch::invite: on_reinvite(ev, d, now); return;
        case Dispatch::bye: on_bye(ev, d, now); return;
        case Dispatch::options: respond_simple(ev.id, 200, options_answer_headers(), now); return;  // §11.2
        case Dispatch::ignore: return;
        case Dispatch::application: break;
    }
    if (refuse_unhandled_method(ev, now)) return;
    if (is_target_refresh(m.method())) d.dialog.refresh_target(m);
    new_incoming(ev, d.id, {}, now);
}

void UserAgentCore::Impl::on_request_response(Request& r, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    const ResponseOrigin origin = ev.kind == EventKind::timeout           ? ResponseOrigin::timeout
                                  : ev.kind == EventKind::transport_error ? ResponseOrigin::transport_error
                                                                          : ResponseOrigin::wire;
    if ((status == 401 || status == 407) && m != nullptr) {
        if (auto id = retry_with_credentials(r.out, *m, now)) {
            r.tx = *id;
            clients[id->value] = ClientOwner{.role = ClientRole::request, .owner = r.id.value, .ack = {},
                                             .ack_destination = {}, .to_tag = {}, .fields = {}, .auth = {}};
            // Answered internally; surfaced only to a requester that asked, as informational (final
            // false, retried true): the retry's own responses follow under the same RequestId.
            if (r.report_challenges)
                emit(UaEvent{.kind = UaEventKind::response, .session = {}, .dialog = r.dialog, .request = r.id,
                             .incoming = {}, .message = *m, .method = r.out.method, .status = status, .final = false,
                             .cause = EndCause::failed, .direction = MediaDirection::sendrecv,
                             .origin = ResponseOrigin::wire, .retried = true});
            return;
        }
    }
    DialogId d = r.dialog;
    if (status >= 200 && status < 300 && m != nullptr) {
        if (r.creates_dialog && !r.dialog && !m->to().tag.empty()) {
            DialogRequestFields f{.call_id = r.out.call_id, .local_tag = r.out.from_tag, .local_uri = r.out.from_uri,
                                  .remote_uri = r.out.to_uri, .request_uri = r.out.request_uri, .cseq = r.out.cseq};
            if (DialogEntry* existing = find_dialog(r.out.call_id, r.out.from_tag, m->to().tag)) {
                d = existing->id;
            } else if (auto made = Dialog::as_uac(f, *m); made && dialogs.size() < config.max_dialogs) {
                DialogEntry& e = add_dialog(std::move(*made), r.out.destination.transport, ev.source.connection, 1);
                d = e.id;
                r.usage_given = true;
            }
            r.dialog = d;
        } else if (DialogEntry* de = dialog(r.dialog); de != nullptr && !r.creates_dialog) {
            if (m->cseq().method == Method::subscribe) de->dialog.refresh_target(*m);
        }
    }
    const bool final = status >= 200;
    UaEvent e{.kind = UaEventKind::response, .session = {}, .dialog = d, .request = r.id, .incoming = {},
              .message = m != nullptr ? std::optional<Message>(*m) : std::nullopt, .method = r.out.method,
              .status = status, .final = final, .cause = EndCause::failed, .direction = MediaDirection::sendrecv,
              .origin = origin};
    if (final && r.creates_dialog && status >= 200 && status < 300) remember_forkable(r, now);
    if (final) requests.erase(r.id.value);  // r is gone from here
    emit(std::move(e));
}

}  // namespace referkit

// ---------------------------------------------------------------- public surface

namespace referkit {

std::string_view to_string(UaError e) noexcept {
    switch (e) {
        case UaError::no_such_session: return "no such session";
        case UaError::no_such_dialog: return "no such dialog";
        case UaError::no_such_request: return "no such request";
        case UaError::wrong_state: return "wrong state";
        case UaError::invalid_target: return "invalid target";
        case UaError::invalid_message: return "invalid message";
        case UaError::transaction_failed: return "transaction failed";
        case UaError::limit_reached: return "limit reached";
    }
    return "?";
}

std::string_view to_string(EndCause c) noexcept {
    switch (c) {
        case EndCause::bye_local: return "bye_local";
        case EndCause::bye_remote: return "bye_remote";
        case EndCause::cancelled: return "cancelled";
        case EndCause::rejected: return "rejected";
        case EndCause::failed: return "failed";
        case EndCause::no_ack: return "no_ack";
    }
    return "?";
}

std::string_view to_string(UaEventKind k) noexcept {
    switch (k) {
        case UaEventKind::incoming_call: return "incoming_call";
        case UaEventKind::session_progress: return "session_progress";
        case UaEventKind::session_answered: return "session_answered";
        case UaEventKind::session_confirmed: return "session_confirmed";
        case UaEventKind::session_ended: return "session_ended";
        case UaEventKind::offer_received: return "offer_received";
        case UaEventKind::answer_received: return "answer_received";
        case UaEventKind::reinvite_failed: return "reinvite_failed";
        case UaEventKind::request: return "request";
        case UaEventKind::response: return "response";
        case UaEventKind::dialog_ended: return "dialog_ended";
    }
    return "?";
}

UserAgentCore::UserAgentCore(UserAgentConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
UserAgentCore::~UserAgentCore() = default;

void UserAgentCore::receive(SharedBuffer bytes, const Source& from, Time now) {
    impl_->txl.receive(std::move(bytes), from, now);
    impl_->drain(now);
}

std::optional<Transmit> UserAgentCore::poll_transmit() { return impl_->txl.poll_transmit(); }

void UserAgentCore::transport_error(TransactionId id, Time now) {
    if (!id) return;
    impl_->txl.transport_error(id, now);
    impl_->drain(now);
}

std::vector<IncomingId> UserAgentCore::Impl::unanswered(Time now) const {
    std::vector<IncomingId> out;
    for (const auto& [id, in] : incoming)
        if (in.answer_by && now >= *in.answer_by) out.push_back(in.id);
    return out;
}

std::optional<Time> UserAgentCore::Impl::unanswered_deadline() const {
    std::optional<Time> best;
    for (const auto& [id, in] : incoming)
        if (in.answer_by && (!best || *in.answer_by < *best)) best = in.answer_by;
    return best;
}

std::optional<Time> UserAgentCore::next_deadline() const {
    std::optional<Time> best;
    for (auto t : {impl_->txl.next_deadline(), impl_->session_deadline(), impl_->unanswered_deadline()})
        if (t && (!best || *t < *best)) best = t;
    return best;
}

void UserAgentCore::on_timer(Time now) {
    impl_->txl.on_timer(now);
    impl_->drain(now);
    impl_->session_timers(now);
    impl_->drain(now);
    // §21.4.9: a request the application never answered gets 408 (and is forgotten).
    for (IncomingId id : impl_->unanswered(now)) {
        auto answered = respond(id, UaResponse{.status = 408, .reason = {}, .headers = {}, .content_type = {},
                                               .body = {}, .creates_dialog = false},
                                now);
        // Whatever happened, the request is forgotten: a deadline left in the past would fire for ever.
        if (!answered) impl_->incoming.erase(id.value);
    }
}

void UserAgentCore::on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) {
    impl_->txl.set_sent_by(transport, std::string(sent_by));
    std::string hp(sent_by);
    if (hp.empty()) {
        hp = local.host.find(':') != std::string::npos ? "[" + local.host + "]" : local.host;
        if (local.port != 0) hp += ":" + std::to_string(local.port);
    }
    impl_->contact_hostport[transport] = std::move(hp);
}

std::optional<UaEvent> UserAgentCore::poll_event() {
    if (impl_->events.empty()) return std::nullopt;
    UaEvent e = std::move(impl_->events.front());
    impl_->events.pop_front();
    return e;
}

std::expected<RequestId, UaError> UserAgentCore::send_request(const OutOfDialogRequest& request, Time now) {
    Impl& I = *impl_;
    const Method m = lookup_method(request.method);
    if (!is_token(request.method) || m == Method::invite || m == Method::ack || m == Method::cancel ||
        m == Method::bye)
        return std::unexpected(UaError::invalid_message);
    if (I.requests.size() + I.incoming.size() >= I.config.max_requests) return std::unexpected(UaError::limit_reached);
    if (request.creates_dialog && I.dialogs.size() >= I.config.max_dialogs) return std::unexpected(UaError::limit_reached);
    auto o = I.out_of_dialog(request.method, request.target, request.headers, request.creates_dialog, false);
    if (!o) return std::unexpected(o.error());
    o->content_type = request.content_type;
    o->body = request.body;
    auto tx = I.send(*o, now);
    if (!tx) return std::unexpected(tx.error());
    const RequestId id{I.next_request++};
    I.requests.emplace(id.value, ua::Request{.id = id, .tx = *tx, .out = std::move(*o),
                                             .creates_dialog = request.creates_dialog, .dialog = {},
                                             .usage_given = false, .report_challenges = request.report_challenges});
    I.clients[tx->value] = ua::ClientOwner{.role = ua::ClientRole::request, .owner = id.value, .ack = {},
                                           .ack_destination = {}, .to_tag = {}, .fields = {}, .auth = {}};
    I.drain(now);
    return id;
}

std::expected<RequestId, UaError> UserAgentCore::send_in_dialog(DialogId dialog, const InDialogRequest& request,
                                                                Time now) {
    Impl& I = *impl_;
    ua::DialogEntry* d = I.dialog(dialog);
    if (d == nullptr) return std::unexpected(UaError::no_such_dialog);
    const Method m = lookup_method(request.method);
    if (!is_token(request.method) || m == Method::invite || m == Method::ack || m == Method::cancel ||
        m == Method::bye)
        return std::unexpected(UaError::invalid_message);
    if (I.requests.size() + I.incoming.size() >= I.config.max_requests) return std::unexpected(UaError::limit_reached);
    const std::uint32_t before = d->dialog.info().local_cseq;
    auto o = I.in_dialog(*d, request.method, request.headers, is_target_refresh(m), false);
    o.content_type = request.content_type;
    o.body = request.body;
    auto tx = I.send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        return std::unexpected(tx.error());
    }
    const RequestId id{I.next_request++};
    I.requests.emplace(id.value, ua::Request{.id = id, .tx = *tx, .out = std::move(o), .creates_dialog = false,
                                             .dialog = dialog, .usage_given = false,
                                             .report_challenges = request.report_challenges});
    I.clients[tx->value] = ua::ClientOwner{.role = ua::ClientRole::request, .owner = id.value, .ack = {},
                                           .ack_destination = {}, .to_tag = {}, .fields = {}, .auth = {}};
    I.drain(now);
    return id;
}

std::expected<DialogId, UaError> UserAgentCore::respond(IncomingId id, const UaResponse& response, Time now) {
    Impl& I = *impl_;
    auto it = I.incoming.find(id.value);
    if (it == I.incoming.end()) return std::unexpected(UaError::no_such_request);
    ua::Incoming& in = it->second;
    if (response.status < 101 || response.status > 699) return std::unexpected(UaError::invalid_message);
    const Message& req = in.request;
    HeaderList h = response.headers;
    std::string tag;
    DialogId d = in.dialog;
    const bool ok = response.status >= 200 && response.status < 300;
    if (ok && response.creates_dialog && !d && req.to().tag.empty()) {
        if (I.dialogs.size() >= I.config.max_dialogs) return std::unexpected(UaError::limit_reached);
        tag = ua::hex(I.random());
        auto made = Dialog::as_uas(req, tag);
        if (!made) return std::unexpected(UaError::invalid_message);
        made->confirm(nullptr);
        ua::DialogEntry& e = I.add_dialog(std::move(*made), in.source.transport, in.source.connection, 1);
        d = e.id;
        in.dialog = d;
    }
    const bool wants_contact =
        ok && (response.creates_dialog || req.method() == Method::subscribe || req.method() == Method::notify ||
               req.method() == Method::refer);
    if (wants_contact && !Impl::has_header(h, "Contact")) {
        Transport t = Transport::udp;
        if (ua::DialogEntry* de = I.dialog(d)) t = de->transport;
        h.emplace_back("Contact", I.contact_value(t));
    }
    ResponseSpec spec;
    spec.status = response.status;
    spec.reason = response.reason;
    spec.to_tag = tag;
    auto v = I.views(h);
    spec.headers = v;
    spec.content_type = response.content_type;
    spec.body = response.body;
    auto r = I.txl.respond(in.tx, spec, now);
    if (!r) {
        switch (r.error()) {
            case TransactionError::invalid_response:
            case TransactionError::invalid_request: return std::unexpected(UaError::invalid_message);
            case TransactionError::no_such_transaction:
            case TransactionError::wrong_state:
            case TransactionError::too_many_transactions:
            case TransactionError::branch_collision: break;
        }
        I.incoming.erase(it);
        return std::unexpected(UaError::no_such_request);
    }
    if (ok && req.method() == Method::notify) {
        if (auto ss = req.subscription_state(); ss && ss->state == Substate::terminated)
            I.remember_final_notify(req, now);
    }
    if (response.status >= 200) I.incoming.erase(it);
    I.drain(now);
    return d;
}

std::expected<void, UaError> UserAgentCore::add_usage(DialogId id) {
    ua::DialogEntry* d = impl_->dialog(id);
    if (d == nullptr) return std::unexpected(UaError::no_such_dialog);
    ++d->usages;
    return {};
}

std::expected<void, UaError> UserAgentCore::remove_usage(DialogId id, Time now) {
    if (impl_->dialog(id) == nullptr) return std::unexpected(UaError::no_such_dialog);
    impl_->release_usage(id);
    impl_->drain(now);
    return {};
}

std::optional<SessionState> UserAgentCore::session_state(SessionId id) const {
    auto it = impl_->sessions.find(id.value);
    if (it == impl_->sessions.end()) return std::nullopt;
    return it->second.state;
}

std::optional<DialogId> UserAgentCore::session_dialog(SessionId id) const {
    auto it = impl_->sessions.find(id.value);
    if (it == impl_->sessions.end() || !it->second.dialog) return std::nullopt;
    return it->second.dialog;
}

std::optional<DialogInfo> UserAgentCore::dialog_info(DialogId id) const {
    auto it = impl_->dialogs.find(id.value);
    if (it == impl_->dialogs.end()) return std::nullopt;
    return it->second.dialog.info();
}

std::optional<DialogInfo> UserAgentCore::request_info(RequestId id) const {
    auto it = impl_->requests.find(id.value);
    if (it == impl_->requests.end()) return std::nullopt;
    const ua::Outgoing& o = it->second.out;
    DialogInfo i;
    i.call_id = o.call_id;
    i.local_tag = o.from_tag;
    i.local_uri = o.from_uri;
    i.remote_uri = o.to_uri;
    i.remote_target = o.request_uri;
    i.local_cseq = o.cseq;
    if (const ua::DialogEntry* d = impl_->dialog(it->second.dialog)) {
        i = d->dialog.info();
        i.local_cseq = o.cseq;
    }
    return i;
}

std::string UserAgentCore::allow_value() const { return impl_->allow_value(); }

UaCounts UserAgentCore::counts() const {
    const Impl& I = *impl_;
    return UaCounts{.sessions = I.sessions.size(), .dialogs = I.dialogs.size(), .requests = I.requests.size(),
                    .incoming = I.incoming.size(), .transactions = I.txl.transaction_count(),
                    .timers = I.txl.timer_count() + I.session_timer_count(),
                    .transaction_owners = I.clients.size() + I.servers.size()};
}

const TransactionLayer& UserAgentCore::transactions() const noexcept { return impl_->txl; }

}  // namespace referkit
