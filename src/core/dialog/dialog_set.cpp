#include "dialog_set.hpp"

namespace referkit::stack {

std::string dialog_key(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag) {
    std::string k;
    k.reserve(call_id.size() + local_tag.size() + remote_tag.size() + 2);
    k.append(call_id).push_back('\n');
    k.append(local_tag).push_back('\n');
    k.append(remote_tag);
    return k;
}

DialogEntry* DialogSet::find(DialogId id) {
    auto it = dialogs_.find(id);
    return it == dialogs_.end() ? nullptr : &it->second;
}

const DialogEntry* DialogSet::find(DialogId id) const {
    auto it = dialogs_.find(id);
    return it == dialogs_.end() ? nullptr : &it->second;
}

DialogEntry* DialogSet::find(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag) {
    auto it = index_.find(dialog_key(call_id, local_tag, remote_tag));
    return it == index_.end() ? nullptr : find(it->second);
}

DialogEntry& DialogSet::add(Dialog d, Transport t, ConnectionId c, std::size_t usages) {
    const DialogId id{next_++};
    const DialogInfo& i = d.info();
    std::string key = dialog_key(i.call_id, i.local_tag, i.remote_tag);
    DialogEntry& e = dialogs_[id];
    e.id = id;
    e.dialog = std::move(d);
    e.usages = usages;
    e.transport = t;
    e.connection = c;
    e.key = key;
    index_[std::move(key)] = id;
    return e;
}

bool DialogSet::use(DialogId id) {
    DialogEntry* d = find(id);
    if (d == nullptr) return false;
    ++d->usages;
    return true;
}

bool DialogSet::release(DialogId id) {
    auto it = dialogs_.find(id);
    if (it == dialogs_.end()) return false;
    if (it->second.usages > 0) --it->second.usages;
    if (it->second.usages > 0) return false;
    // RFC 5057 §3: a dialog ends with its last usage.
    auto ix = index_.find(it->second.key);
    if (ix != index_.end() && ix->second == id) index_.erase(ix);
    dialogs_.erase(it);
    return true;
}

}  // namespace referkit::stack
