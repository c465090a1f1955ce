// The Asio drive loop: Engine::Impl's dispatch of transmits, listeners, start and stop. See
// include/referkit/runtime/engine.hpp; connections are in stream_connection.hpp and
// ws_connection.hpp, the shared state in engine_impl.hpp.
#include <cerrno>

#include "engine_impl.hpp"
#include "stream_connection.hpp"
#include "ws_connection.hpp"

namespace referkit::runtime {

// ----------------------------------------------------------------------------- listeners

void UdpListener::read() {
    socket.async_receive_from(asio::buffer(buffer), from, [self = shared_from_this()](const error_code& ec, std::size_t n) {
        if (self->closed) return;
        if (ec == asio::error::operation_aborted) return;
        Engine::Impl& engine = *self->impl;
        if (!ec) {
            ++engine.counters.datagrams_received;
            if (n > engine.opt.limits.max_message_size) {
                // The buffer is max+1 bytes: a datagram that fills it was truncated. Drop it.
                ++engine.counters.oversized_datagrams;
            } else {
                const Source src{Transport::udp, endpoint_of(self->from.address(), self->from.port()), 0};
                SharedBuffer bytes = SharedBuffer::copy_of(std::string_view(self->buffer.data(), n));
                if (engine.opt.trace) engine.opt.trace(TraceDirection::received, src.transport, src.remote, bytes.view());
                engine.step([&](Time t) { engine.core.receive(std::move(bytes), src, t); });
            }
        }
        // Errors (ICMP port unreachable surfacing as connection_refused) do not stop the listener.
        if (!self->closed) self->read();
    });
}

void Acceptor::accept() {
    acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
        if (self->closed || ec == asio::error::operation_aborted) return;
        if (ec) {
            self->failed(ec);
            return;
        }
        if (self->episode_logged)
            self->impl->log(std::string(transport_name(self->transport)) + " " + format_hostport(self->local) +
                            ": accepting again");
        self->episode_logged = false;
        self->next_pause = first_pause;
        self->errors_in_a_row = 0;
        self->impl->accepted(self->transport, std::move(socket), self->ws_path);
        if (!self->closed) self->accept();
    });
}

void Acceptor::failed(const error_code& ec) {
    const bool out_of_resources = ec == asio::error::no_descriptors || ec.value() == ENFILE ||
                                  ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
    if (!out_of_resources && ++errors_in_a_row < 8) {
        accept();  // one connection failed (reset before we took it): the next may not
        return;
    }
    ++impl->counters.accept_pauses;
    if (!episode_logged) {
        impl->log(std::string(transport_name(transport)) + " " + format_hostport(local) + ": accept failed (" +
                  ec.message() + "): pausing accepts until a connection closes or for up to " +
                  std::to_string(longest_pause.count()) + " ms at a time");
        episode_logged = true;
    }
    paused = true;
    pause_timer.expires_after(next_pause);
    next_pause = std::min(next_pause * 2, longest_pause);
    pause_timer.async_wait([self = shared_from_this()](const error_code& e) {
        if (e == asio::error::operation_aborted || self->closed || !self->paused) return;
        self->paused = false;
        self->accept();
    });
}

// A connection closed: a descriptor is free, try again now (the timer's wait is cancelled).
void Acceptor::resume() {
    if (!paused || closed) return;
    paused = false;
    pause_timer.cancel();
    accept();
}

// ----------------------------------------------------------------------------- engine

std::shared_ptr<Conn> Engine::Impl::make_conn(Transport t, Endpoint remote, bool outgoing, tcp::socket socket,
                                              const std::string& ws_path) {
    const ConnectionId cid = next_connection++;
    ssl::context* ctx = outgoing ? (client_tls ? &*client_tls : nullptr) : (server_tls ? &*server_tls : nullptr);
    std::shared_ptr<Conn> c;
    switch (t) {
    case Transport::tcp:
        c = std::make_shared<StreamConn<tcp::socket>>(*this, cid, t, std::move(remote), outgoing, std::move(socket), ctx);
        break;
    case Transport::tls:
        if (!ctx) return nullptr;
        c = std::make_shared<StreamConn<TlsStream>>(*this, cid, t, std::move(remote), outgoing, std::move(socket), ctx);
        break;
    case Transport::ws:
        c = std::make_shared<WsConn<tcp::socket>>(*this, cid, t, std::move(remote), outgoing, std::move(socket), ctx,
                                                  ws_path);
        break;
    case Transport::wss:
        if (!ctx) return nullptr;
        c = std::make_shared<WsConn<TlsSocket>>(*this, cid, t, std::move(remote), outgoing, std::move(socket), ctx,
                                                ws_path);
        break;
    case Transport::udp: return nullptr;
    }
    conns.emplace(cid, c);
    return c;
}

void Engine::Impl::accepted(Transport t, tcp::socket socket, const std::string& ws_path) {
    error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return;
    if (over_cap(peer.address())) {
        // Closed at once, with a reset: no TIME_WAIT state kept on our side for a refused peer.
        socket.set_option(asio::socket_base::linger(true, 0), ec);
        socket.close(ec);
        return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++counters.connections_accepted;
    auto c = make_conn(t, endpoint_of(peer.address(), peer.port()), false, std::move(socket), ws_path);
    if (!c) return;
    c->source = peer.address();
    ++per_source[peer.address()];
    c->last_activity = now();
    c->start_accepted();
}

bool Engine::Impl::over_cap(const asio::ip::address& peer) {
    const auto it = per_source.find(peer);
    const std::size_t from_peer = it == per_source.end() ? 0 : it->second;
    const bool total = opt.max_connections > 0 && conns.size() >= opt.max_connections;
    const bool source = opt.max_connections_per_source > 0 && from_peer >= opt.max_connections_per_source;
    if (!total && !source) return false;
    ++counters.connections_over_cap;
    ++refused_since_log;
    const Time t = now();
    if (!cap_logged_at || t - *cap_logged_at >= std::chrono::duration_cast<Time>(cap_log_interval)) {
        log("connection cap reached (" + std::to_string(conns.size()) + " open, max_connections " +
            std::to_string(opt.max_connections) + "; " + std::to_string(from_peer) + " from " + peer.to_string() +
            ", max_connections_per_source " + std::to_string(opt.max_connections_per_source) + "): refused " +
            std::to_string(refused_since_log) + " connection(s) since the last report");
        cap_logged_at = t;
        refused_since_log = 0;
    }
    return true;
}

void Engine::Impl::remove(ConnectionId id) {
    const auto it = conns.find(id);
    if (it == conns.end()) return;
    if (it->second->source) {
        if (auto s = per_source.find(*it->second->source); s != per_source.end() && --s->second == 0) per_source.erase(s);
    }
    conns.erase(it);
    // A descriptor was freed: an acceptor paused for want of one tries again now.
    for (auto& a : acceptors) a->resume();
}

void Engine::Impl::dispatch(Transmit tx) {
    switch (tx.destination.transport) {
    case Transport::udp: {
        if (opt.trace) opt.trace(TraceDirection::sent, Transport::udp, tx.destination.remote, tx.bytes.view());
        if (auto a = ip_literal(tx.destination.remote.host)) {
            send_udp(tx, *a);
            return;
        }
        resolve(tx.destination.remote, [this, tx](const error_code& ec, std::vector<asio::ip::address> addrs) {
            if (ec || addrs.empty()) {
                log("cannot resolve " + tx.destination.remote.host + ": " + (ec ? ec.message() : "no address"));
                report_failure(tx.transaction);
                return;
            }
            // Prefer an address of a family we have a UDP listener for.
            for (const auto& a : addrs)
                for (const auto& l : udp_listeners)
                    if (!l->closed && l->socket.local_endpoint().address().is_v6() == a.is_v6()) {
                        send_udp(tx, a);
                        return;
                    }
            send_udp(tx, addrs.front());
        });
        return;
    }
    case Transport::tcp:
    case Transport::tls:
    case Transport::ws:
    case Transport::wss: send_stream(std::move(tx)); return;
    }
}

void Engine::Impl::send_udp(const Transmit& tx, const asio::ip::address& to) {
    // Send from the listener of the same family, so answers come back to it (RFC 3261 §18.1.1).
    for (const auto& l : udp_listeners) {
        if (l->closed || l->socket.local_endpoint().address().is_v6() != to.is_v6()) continue;
        error_code ec;
        l->socket.send_to(asio::buffer(tx.bytes.data(), tx.bytes.size()), udp::endpoint(to, tx.destination.remote.port), 0,
                          ec);
        if (ec) {
            log("udp send to " + format_hostport(tx.destination.remote) + " failed: " + ec.message());
            report_failure(tx.transaction);
        }
        return;
    }
    log("no " + std::string(to.is_v6() ? "IPv6" : "IPv4") + " UDP listener to send to " +
        format_hostport(tx.destination.remote));
    report_failure(tx.transaction);
}

void Engine::Impl::send_stream(Transmit tx) {
    const Destination& d = tx.destination;
    // The trace names the peer of the connection that carries the message, which for a reused
    // connection is not the address the message was meant for (a WS peer's .invalid Contact).
    const auto trace_to = [&](const Endpoint& peer) {
        if (opt.trace) opt.trace(TraceDirection::sent, d.transport, peer, tx.bytes.view());
    };
    // RFC 3261 §18.2.2 / §18.1.1: the named connection if it is open, else one to the same place.
    if (d.connection != 0) {
        if (auto it = conns.find(d.connection); it != conns.end() && it->second->usable()) {
            trace_to(it->second->remote);
            it->second->send(std::move(tx.bytes), tx.transaction);
            return;
        }
    }
    for (auto& [cid, c] : conns) {
        if (c->transport != d.transport || !c->usable()) continue;
        if (same_remote(c->remote, d.remote) || (c->outgoing && c->dest_host == d.remote.host && c->remote.port == d.remote.port)) {
            trace_to(c->remote);
            c->send(std::move(tx.bytes), tx.transaction);
            return;
        }
    }
    trace_to(d.remote);
    auto c = make_conn(d.transport, d.remote, true, tcp::socket(io), opt.ws_client_path);
    if (!c) {
        log("no TLS client context");
        report_failure(tx.transaction);
        return;
    }
    c->dest_host = d.remote.host;
    c->connect_deadline = now() + std::chrono::duration_cast<Time>(opt.connect_timeout);
    c->last_activity = now();
    c->send(std::move(tx.bytes), tx.transaction);
    c->schedule();
    if (auto a = ip_literal(d.remote.host)) {
        c->connect({*a});
        return;
    }
    resolve(d.remote, [c](const error_code& ec, std::vector<asio::ip::address> addrs) {
        if (c->state == Conn::State::closed) return;
        if (ec) {
            c->connect_failed("cannot resolve " + c->dest_host + ": " + ec.message());
            return;
        }
        c->connect(addrs);
    });
}

std::expected<void, std::string> Engine::Impl::start() {
    if (started) return std::unexpected(std::string("start() called twice"));
    started = true;
    // Client TLS context: always available for outgoing TLS/WSS.
    try {
        client_tls.emplace(ssl::context::tls_client);
        client_tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                                ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        // An idle TLS connection gives OpenSSL's record buffers back (they come again with traffic).
        SSL_CTX_set_mode(client_tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_options(client_tls->native_handle(), SSL_OP_NO_RENEGOTIATION);  // as the server's
        if (!opt.tls.ca_file.empty()) client_tls->load_verify_file(opt.tls.ca_file);
        else client_tls->set_default_verify_paths();
    } catch (const boost::system::system_error& e) {
        stop();
        return std::unexpected("TLS CA file '" + opt.tls.ca_file + "': " + e.what());
    }
    const bool need_server_tls = std::any_of(opt.listen.begin(), opt.listen.end(), [](const ListenSpec& l) {
        return l.transport == Transport::tls || l.transport == Transport::wss;
    });
    if (need_server_tls) {
        if (opt.tls.cert_file.empty() || opt.tls.key_file.empty()) {
            stop();
            return std::unexpected(std::string("a TLS or WSS listener needs tls.cert_file and tls.key_file"));
        }
        try {
            server_tls.emplace(ssl::context::tls_server);
            server_tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
            SSL_CTX_set_mode(server_tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
            // No TLS 1.2 renegotiation: a write that would need to read first could wait forever.
            SSL_CTX_set_options(server_tls->native_handle(), SSL_OP_NO_RENEGOTIATION);
            server_tls->use_certificate_chain_file(opt.tls.cert_file);
            server_tls->use_private_key_file(opt.tls.key_file, ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            stop();
            return std::unexpected("TLS certificate '" + opt.tls.cert_file + "' / key '" + opt.tls.key_file +
                                   "': " + e.what());
        }
    }
    for (const ListenSpec& spec : opt.listen) {
        const std::string name = std::string(transport_name(spec.transport)) + " " + format_hostport(spec.local);
        auto addr = ip_literal(spec.local.host);
        if (!addr) {
            stop();
            return std::unexpected(name + ": the host must be an IP address");
        }
        error_code ec;
        Endpoint bound;
        if (spec.transport == Transport::udp) {
            auto l = std::make_shared<UdpListener>(io, *this);
            const udp::endpoint ep(*addr, spec.local.port);
            l->socket.open(ep.protocol(), ec);
            if (!ec && addr->is_v6()) l->socket.set_option(asio::ip::v6_only(true), ec);
            if (!ec) l->socket.bind(ep, ec);
            if (ec) {
                stop();
                return std::unexpected(name + ": " + ec.message());
            }
            const auto local = l->socket.local_endpoint();
            bound = endpoint_of(local.address(), local.port());
            l->local = bound;
            l->buffer.resize(opt.limits.max_message_size + 1);
            udp_listeners.push_back(l);
        } else {
            auto a = std::make_shared<Acceptor>(io, *this);
            const tcp::endpoint ep(*addr, spec.local.port);
            a->acceptor.open(ep.protocol(), ec);
            if (!ec) a->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
            if (!ec && addr->is_v6()) a->acceptor.set_option(asio::ip::v6_only(true), ec);
            if (!ec) a->acceptor.bind(ep, ec);
            if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
            if (ec) {
                stop();
                return std::unexpected(name + ": " + ec.message());
            }
            const auto local = a->acceptor.local_endpoint();
            bound = endpoint_of(local.address(), local.port());
            a->transport = spec.transport;
            a->ws_path = spec.ws_path;
            a->local = bound;
            acceptors.push_back(a);
        }
        locals.emplace_back(spec.transport, bound);
        log("listening on " + std::string(transport_name(spec.transport)) + " " + format_hostport(bound));
    }
    for (auto& l : udp_listeners) l->read();
    for (auto& a : acceptors) a->accept();
    // Tell the core what its Vias say: each listener's address; a WebSocket client without a
    // listener has no reachable address and says so with a ".invalid" host (RFC 7118 §5).
    for (const auto& [t, ep] : locals) core.on_local_address(t, ep, format_hostport(ep));
    for (Transport t : {Transport::ws, Transport::wss}) {
        const bool listening = std::any_of(locals.begin(), locals.end(), [t](const auto& l) { return l.first == t; });
        if (!listening) core.on_local_address(t, Endpoint{}, random_invalid_host());
    }
    step([](Time) {});  // flush anything queued before start and arm the timer
    return {};
}

void Engine::Impl::stop() {
    if (stopped) return;
    stopped = true;
    error_code ignored;
    timer.cancel();
    resolver.cancel();
    for (auto& l : udp_listeners) {
        l->closed = true;
        l->socket.close(ignored);
    }
    for (auto& a : acceptors) {
        a->closed = true;
        a->pause_timer.cancel();
        a->acceptor.close(ignored);
    }
    auto all = std::move(conns);
    conns.clear();
    for (auto& [cid, c] : all) {
        c->state = Conn::State::closed;
        c->watchdog.cancel();
        c->close_stream();
    }
}

Engine::Engine(boost::asio::io_context& io, Driven& core, EngineOptions options)
    : impl_(std::make_shared<Impl>(io, core, std::move(options))) {}

Engine::~Engine() { stop(); }

std::expected<void, std::string> Engine::start() { return impl_->start(); }

std::vector<std::pair<Transport, Endpoint>> Engine::local_endpoints() const { return impl_->locals; }

void Engine::post(std::function<void(Time)> command) {
    asio::post(impl_->io, [weak = std::weak_ptr<Impl>(impl_), c = std::move(command)]() {
        auto self = weak.lock();
        if (!self || self->stopped) return;
        self->step([&](Time t) { c(t); });
    });
}

void Engine::stop() { impl_->stop(); }

Time Engine::now() const { return impl_->now(); }

const EngineCounters& Engine::counters() const noexcept { return impl_->counters; }

std::size_t Engine::connection_count() const noexcept { return impl_->conns.size(); }

}  // namespace referkit::runtime
