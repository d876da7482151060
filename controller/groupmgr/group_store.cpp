#include "group_store.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>

namespace partyhub::groupmgr {

const char* toString(StoreError e) {
  switch (e) {
    case StoreError::kNotFound: return "not found";
    case StoreError::kExists: return "exists";
    case StoreError::kBadPassword: return "bad password";
    case StoreError::kBadToken: return "bad token";
    case StoreError::kConflict: return "conflict";
    case StoreError::kInvalid: return "invalid";
  }
  return "?";
}

bool validName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '/' && c != '\\';
  });
}

bool validEndpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || s.size() > 255) return false;
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  const int p = std::stoi(port);
  return p > 0 && p < 65536;
}

namespace {

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

std::string randomHex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  return hex(buf.data(), bytes);
}

std::string sha256(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return hex(d, sizeof d);
}

std::string passwordHash(const std::string& password, const std::string& salt) {
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), 100'000,
                        EVP_sha256(), sizeof out, out) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return hex(out, sizeof out);
}

bool sameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// One prepared statement, finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : mDb(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &mStmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Statement() { sqlite3_finalize(mStmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(mStmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(mStmt, i, v);
    return *this;
  }
  /// True while there is a row.
  bool step() {
    const int rc = sqlite3_step(mStmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_CONSTRAINT) throw StoreFailure(StoreError::kExists, sqlite3_errmsg(mDb));
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(mDb));
  }
  std::string text(int i) {
    const auto* p = sqlite3_column_text(mStmt, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }
  std::int64_t integer(int i) { return sqlite3_column_int64(mStmt, i); }

 private:
  sqlite3* mDb;
  sqlite3_stmt* mStmt = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if an exception leaves the scope.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : mDb(db) { run("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!mDone) sqlite3_exec(mDb, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    mDone = true;
  }

 private:
  void run(const char* sql) {
    if (sqlite3_exec(mDb, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(mDb));
    }
  }
  sqlite3* mDb;
  bool mDone = false;
};

}  // namespace

GroupStore::GroupStore(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &mDb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = mDb != nullptr ? sqlite3_errmsg(mDb) : "out of memory";
    sqlite3_close(mDb);
    throw std::runtime_error("cannot open database " + path + ": " + why);
  }
  sqlite3_busy_timeout(mDb, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  exec(R"(CREATE TABLE IF NOT EXISTS groups (
            name TEXT PRIMARY KEY, salt TEXT NOT NULL, password_hash TEXT NOT NULL,
            created_us INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1))");
  exec(R"(CREATE TABLE IF NOT EXISTS members (
            id TEXT PRIMARY KEY, group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
            name TEXT NOT NULL, token_hash TEXT NOT NULL, joined_us INTEGER NOT NULL,
            last_beat_us INTEGER NOT NULL))");
  exec(R"(CREATE TABLE IF NOT EXISTS channels (
            member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
            channel_id INTEGER NOT NULL, bootstrap TEXT NOT NULL, kind TEXT NOT NULL,
            PRIMARY KEY (member_id, channel_id)))");
  exec("CREATE INDEX IF NOT EXISTS members_by_group ON members(group_name)");
  // Databases from before groups had a layout: theirs is per-source.
  bool hasLayout = false;
  {
    Statement st(mDb, "SELECT COUNT(*) FROM pragma_table_info('groups') WHERE name = 'layout'");
    hasLayout = st.step() && st.integer(0) > 0;
  }
  if (!hasLayout) exec("ALTER TABLE groups ADD COLUMN layout TEXT NOT NULL DEFAULT 'per-source'");
  // ... and from before the manager handed out channel ids.
  bool hasNextChannel = false;
  {
    Statement st(mDb, "SELECT COUNT(*) FROM pragma_table_info('groups') WHERE name = 'next_channel'");
    hasNextChannel = st.step() && st.integer(0) > 0;
  }
  if (!hasNextChannel) {
    exec(("ALTER TABLE groups ADD COLUMN next_channel INTEGER NOT NULL DEFAULT " + std::to_string(kFirstAssignedChannel))
             .c_str());
  }
}

GroupStore::~GroupStore() { sqlite3_close(mDb); }

void GroupStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(mDb, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err != nullptr ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + why);
  }
}

GroupInfo GroupStore::createGroup(const std::string& name, const std::string& password, std::int64_t nowUs,
                                  const std::string& layout) {
  if (!validName(name)) throw StoreFailure(StoreError::kInvalid, "group name must be 1-64 printable characters, no '/'");
  if (password.size() > 256) throw StoreFailure(StoreError::kInvalid, "password longer than 256 bytes");
  if (layout != "per-source" && layout != "shared") {
    throw StoreFailure(StoreError::kInvalid, "layout must be \"per-source\" or \"shared\"");
  }
  const std::string salt = randomHex(16);
  Statement st(mDb, "INSERT INTO groups(name, salt, password_hash, created_us, layout) VALUES (?, ?, ?, ?, ?)");
  st.bind(1, name).bind(2, salt).bind(3, password.empty() ? std::string() : passwordHash(password, salt)).bind(4, nowUs);
  st.bind(5, layout);
  try {
    st.step();
  } catch (const StoreFailure&) {
    throw StoreFailure(StoreError::kExists, "group '" + name + "' already exists");
  }
  return group(name);
}

std::vector<GroupInfo> GroupStore::groups() const {
  Statement st(mDb, R"(SELECT g.name, g.layout, g.password_hash <> '', g.version, COUNT(m.id)
                       FROM groups g LEFT JOIN members m ON m.group_name = g.name
                       GROUP BY g.name ORDER BY g.name)");
  std::vector<GroupInfo> out;
  while (st.step()) {
    out.push_back({st.text(0), st.text(1), st.integer(2) != 0, st.integer(3), static_cast<std::size_t>(st.integer(4))});
  }
  return out;
}

GroupInfo GroupStore::group(const std::string& name) const {
  Statement st(mDb, R"(SELECT g.layout, g.password_hash <> '', g.version,
                              (SELECT COUNT(*) FROM members WHERE group_name = g.name)
                       FROM groups g WHERE g.name = ?)");
  st.bind(1, name);
  if (!st.step()) throw StoreFailure(StoreError::kNotFound, "no group '" + name + "'");
  return {name, st.text(0), st.integer(1) != 0, st.integer(2), static_cast<std::size_t>(st.integer(3))};
}

void GroupStore::bump(const std::string& group) {
  Statement st(mDb, "UPDATE groups SET version = version + 1 WHERE name = ?");
  st.bind(1, group).step();
}

Joined GroupStore::join(const std::string& group, const std::string& password, const std::string& memberName,
                        const std::vector<Channel>& channels, std::int64_t nowUs, const std::string& layout) {
  if (!validName(memberName)) throw StoreFailure(StoreError::kInvalid, "member name must be 1-64 printable characters");
  if (channels.size() > 16) throw StoreFailure(StoreError::kInvalid, "at most 16 channels per member");
  for (const Channel& c : channels) {
    if (!validEndpoint(c.bootstrap)) {
      throw StoreFailure(StoreError::kInvalid, "channel bootstrap '" + c.bootstrap + "' is not HOST:PORT");
    }
    if (c.kind.size() > 32) throw StoreFailure(StoreError::kInvalid, "channel kind longer than 32 characters");
  }
  Transaction tx(mDb);
  {
    Statement st(mDb, "SELECT salt, password_hash, layout FROM groups WHERE name = ?");
    st.bind(1, group);
    if (!st.step()) throw StoreFailure(StoreError::kNotFound, "no group '" + group + "'");
    const std::string salt = st.text(0), hash = st.text(1), groupLayout = st.text(2);
    if (!hash.empty() && !sameSecret(passwordHash(password, salt), hash)) {
      throw StoreFailure(StoreError::kBadPassword, "wrong password for group '" + group + "'");
    }
    // Members of the two layouts cannot watch each other: refuse the
    // mismatch here, where it is one clear message, not a silent failure.
    if (!layout.empty() && layout != groupLayout) {
      throw StoreFailure(StoreError::kConflict, "group '" + group + "' runs the " + groupLayout +
                                                    " layout; join it with that layout (or without choosing one)");
    }
  }
  Joined j;
  j.member.id = randomHex(8);
  j.member.name = memberName;
  j.member.joinedUs = nowUs;
  j.member.lastBeatUs = nowUs;
  j.member.channels = assignChannels(group, channels);
  j.token = randomHex(32);
  {
    Statement st(mDb, "INSERT INTO members(id, group_name, name, token_hash, joined_us, last_beat_us) VALUES (?,?,?,?,?,?)");
    st.bind(1, j.member.id).bind(2, group).bind(3, memberName).bind(4, sha256(j.token)).bind(5, nowUs).bind(6, nowUs);
    st.step();
  }
  for (const Channel& c : j.member.channels) {
    Statement st(mDb, "INSERT INTO channels(member_id, channel_id, bootstrap, kind) VALUES (?,?,?,?)");
    st.bind(1, j.member.id).bind(2, static_cast<std::int64_t>(c.channelId)).bind(3, c.bootstrap).bind(4, c.kind);
    try {
      st.step();
    } catch (const StoreFailure&) {
      throw StoreFailure(StoreError::kInvalid, "channel " + std::to_string(c.channelId) + " given twice");
    }
  }
  bump(group);
  tx.commit();
  j.version = this->group(group).version;
  return j;
}

std::vector<Channel> GroupStore::assignChannels(const std::string& group, std::vector<Channel> channels) {
  // Asked for (id 0): the group's next id, never one handed out before in
  // it, so a member's chunks still in flight can never pass for a later
  // member's. Small: ids go on the wire with every chunk (a varint).
  for (Channel& c : channels) {
    if (c.channelId != kAssignChannel) continue;
    Statement next(mDb, "SELECT next_channel FROM groups WHERE name = ?");
    next.bind(1, group);
    if (!next.step()) throw StoreFailure(StoreError::kNotFound, "no group '" + group + "'");
    c.channelId = static_cast<std::uint32_t>(next.integer(0));
    Statement bumpNext(mDb, "UPDATE groups SET next_channel = next_channel + 1 WHERE name = ?");
    bumpNext.bind(1, group).step();
  }
  // Chosen (a member joining again keeps its id): one channel per id in a
  // group, but for the per-source layout's id, which every member shares.
  for (const Channel& c : channels) {
    if (c.channelId == kPerSourceChannel) continue;
    Statement taken(mDb, R"(SELECT COUNT(*) FROM channels c JOIN members m ON m.id = c.member_id
                            WHERE m.group_name = ? AND c.channel_id = ?)");
    taken.bind(1, group).bind(2, static_cast<std::int64_t>(c.channelId));
    if (taken.step() && taken.integer(0) > 0) {
      throw StoreFailure(StoreError::kConflict, "channel " + std::to_string(c.channelId) + " is another member's in group '" +
                                                    group + "' (join with channel_id 0 to be given one)");
    }
    // A chosen id the counter has not reached yet (the group was made anew
    // under a member that kept its id) is never handed out after it. Only
    // small ones move the counter: a hash-sized id would make every later
    // id as long on the wire.
    if (c.channelId < kLargestCountedChannel) {
      Statement past(mDb, "UPDATE groups SET next_channel = MAX(next_channel, ?) WHERE name = ?");
      past.bind(1, static_cast<std::int64_t>(c.channelId) + 1).bind(2, group).step();
    }
  }
  return channels;
}

void GroupStore::authenticate(const std::string& group, const std::string& memberId, const std::string& token) const {
  Statement st(mDb, "SELECT token_hash FROM members WHERE id = ? AND group_name = ?");
  st.bind(1, memberId).bind(2, group);
  if (!st.step()) {
    (void)this->group(group);  // 404 for an unknown group first
    throw StoreFailure(StoreError::kNotFound, "no member '" + memberId + "' in group '" + group + "'");
  }
  if (!sameSecret(st.text(0), sha256(token))) throw StoreFailure(StoreError::kBadToken, "token does not match member");
}

void GroupStore::leave(const std::string& group, const std::string& memberId, const std::string& token) {
  Transaction tx(mDb);
  authenticate(group, memberId, token);
  Statement st(mDb, "DELETE FROM members WHERE id = ?");
  st.bind(1, memberId).step();
  bump(group);
  tx.commit();
}

void GroupStore::heartbeat(const std::string& group, const std::string& memberId, const std::string& token,
                           std::int64_t nowUs) {
  authenticate(group, memberId, token);
  Statement st(mDb, "UPDATE members SET last_beat_us = ? WHERE id = ?");
  st.bind(1, nowUs).bind(2, memberId).step();
}

std::vector<Member> GroupStore::membersOf(const std::string& group) const {
  std::vector<Member> out;
  std::map<std::string, std::size_t> index;
  {
    Statement st(mDb, "SELECT id, name, joined_us, last_beat_us FROM members WHERE group_name = ? ORDER BY joined_us, id");
    st.bind(1, group);
    while (st.step()) {
      index[st.text(0)] = out.size();
      out.push_back({st.text(0), st.text(1), st.integer(2), st.integer(3), {}});
    }
  }
  Statement st(mDb, R"(SELECT c.member_id, c.channel_id, c.bootstrap, c.kind FROM channels c
                       JOIN members m ON m.id = c.member_id WHERE m.group_name = ? ORDER BY c.channel_id)");
  st.bind(1, group);
  while (st.step()) {
    auto it = index.find(st.text(0));
    if (it != index.end()) {
      out[it->second].channels.push_back({static_cast<std::uint32_t>(st.integer(1)), st.text(2), st.text(3)});
    }
  }
  return out;
}

std::vector<Member> GroupStore::members(const std::string& group, const std::string& memberId,
                                        const std::string& token) const {
  authenticate(group, memberId, token);
  return membersOf(group);
}

std::vector<std::string> GroupStore::expire(std::int64_t nowUs, std::int64_t timeoutUs) {
  Transaction tx(mDb);
  std::vector<std::string> changed;
  {
    Statement st(mDb, "SELECT DISTINCT group_name FROM members WHERE last_beat_us < ?");
    st.bind(1, nowUs - timeoutUs);
    while (st.step()) changed.push_back(st.text(0));
  }
  if (changed.empty()) return changed;
  {
    Statement st(mDb, "DELETE FROM members WHERE last_beat_us < ?");
    st.bind(1, nowUs - timeoutUs).step();
  }
  for (const std::string& g : changed) bump(g);
  tx.commit();
  return changed;
}

}  // namespace partyhub::groupmgr
