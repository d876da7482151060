#include <doctest/doctest.h>
#include <sqlite3.h>

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "group_store.hpp"

using namespace partyhub::groupmgr;

namespace {

struct TempDb {
  std::string path;
  TempDb() {
    char tmpl[] = "/tmp/partyhub-groupstore-XXXXXX";
    const int fd = mkstemp(tmpl);
    close(fd);
    path = tmpl;
    unlink(path.c_str());
  }
  ~TempDb() {
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  }
};

// What a call failed with, as text ("not found", ...), or "no failure".
std::string failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const StoreFailure& e) {
    return toString(e.code());
  }
  return "no failure";
}

const std::vector<Channel> kCam{{1, "10.0.0.1:7000", "camera"}};

}  // namespace

TEST_CASE("groups: create, list, password, duplicates refused") {
  TempDb db;
  GroupStore s(db.path);
  CHECK(s.createGroup("open", "", 1).hasPassword == false);
  CHECK(s.createGroup("closed", "pw", 1).hasPassword);
  CHECK(failure([&] { s.createGroup("open", "", 2); }) == std::string(toString(StoreError::kExists)));
  CHECK(failure([&] { s.createGroup("a/b", "", 2); }) == std::string(toString(StoreError::kInvalid)));
  CHECK(failure([&] { s.createGroup("", "", 2); }) == std::string(toString(StoreError::kInvalid)));
  CHECK(failure([&] { (void)s.group("nope"); }) == std::string(toString(StoreError::kNotFound)));
  REQUIRE(s.groups().size() == 2);
  CHECK(s.groups()[0].name == "closed");
}

TEST_CASE("members: join with the password, see each other's channels, leave with the token") {
  TempDb db;
  GroupStore s(db.path);
  s.createGroup("team", "pw", 1);
  CHECK(failure([&] { s.join("team", "wrong", "alice", kCam, 2); }) == std::string(toString(StoreError::kBadPassword)));
  CHECK(failure([&] { s.join("nope", "pw", "alice", kCam, 2); }) == std::string(toString(StoreError::kNotFound)));
  CHECK(failure([&] { s.join("team", "pw", "alice", {{1, "no-port", ""}}, 2); }) == std::string(toString(StoreError::kInvalid)));
  CHECK(failure([&] { s.join("team", "pw", "alice", {{1, "h:1", ""}, {1, "h:2", ""}}, 2); }) == std::string(toString(StoreError::kInvalid)));
  const std::int64_t v0 = s.group("team").version;
  const Joined a = s.join("team", "pw", "alice", kCam, 10);
  const Joined b = s.join("team", "pw", "bob", {{1, "10.0.0.2:7000", "camera"}, {2, "10.0.0.2:7002", "screen"}}, 11);
  CHECK(a.version == v0 + 1);
  CHECK(b.version == v0 + 2);
  CHECK(a.member.id != b.member.id);
  const auto ms = s.members("team", a.member.id, a.token);
  REQUIRE(ms.size() == 2);
  CHECK(ms[1].name == "bob");
  REQUIRE(ms[1].channels.size() == 2);
  CHECK(ms[1].channels[1].bootstrap == "10.0.0.2:7002");
  CHECK(ms[1].channels[1].kind == "screen");
  CHECK(failure([&] { (void)s.members("team", a.member.id, b.token); }) == std::string(toString(StoreError::kBadToken)));
  CHECK(failure([&] { s.leave("team", a.member.id, "forged"); }) == std::string(toString(StoreError::kBadToken)));
  s.leave("team", a.member.id, a.token);
  CHECK(s.group("team").members == 1);
  CHECK(s.group("team").version == v0 + 3);
  CHECK(failure([&] { s.leave("team", a.member.id, a.token); }) == std::string(toString(StoreError::kNotFound)));
}

TEST_CASE("a group has one layout, its creator's: a member asking for the other is refused, one asking for none is let in") {
  TempDb db;
  GroupStore s(db.path);
  CHECK(s.createGroup("plain", "", 1).layout == "per-source");
  CHECK(s.createGroup("meet", "", 1, "shared").layout == "shared");
  CHECK(failure([&] { s.createGroup("odd", "", 1, "mesh"); }) == std::string(toString(StoreError::kInvalid)));
  CHECK(s.group("meet").layout == "shared");
  CHECK(s.groups()[0].layout == "shared");  // sorted by name: meet, plain
  CHECK(failure([&] { s.join("meet", "", "carol", kCam, 2, "per-source"); }) == std::string(toString(StoreError::kConflict)));
  CHECK(s.group("meet").members == 0);
  CHECK(s.join("meet", "", "alice", kCam, 2, "shared").member.name == "alice");
  CHECK(s.join("meet", "", "bob", kCam, 3).member.name == "bob");
  CHECK(s.group("meet").members == 2);
}

TEST_CASE("a database from before layouts opens, and its groups are per-source") {
  TempDb db;
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, R"(CREATE TABLE groups (name TEXT PRIMARY KEY, salt TEXT NOT NULL,
                                 password_hash TEXT NOT NULL, created_us INTEGER NOT NULL,
                                 version INTEGER NOT NULL DEFAULT 1);
                               INSERT INTO groups(name, salt, password_hash, created_us) VALUES ('old', 's', '', 1);)",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  GroupStore s(db.path);
  CHECK(s.group("old").layout == "per-source");
  CHECK(s.join("old", "", "alice", kCam, 2, "per-source").member.name == "alice");
  CHECK(s.createGroup("new", "", 3, "shared").layout == "shared");
  CHECK(s.join("old", "", "bob", {{kAssignChannel, "10.0.0.2:7000", ""}}, 4).member.channels.at(0).channelId ==
        kFirstAssignedChannel);  // and channel ids are handed out there too
}

TEST_CASE("channel ids: handed out small, one per member, never twice in a group, and one taken is refused") {
  TempDb db;
  GroupStore s(db.path);
  s.createGroup("meet", "", 1, "shared");
  s.createGroup("other", "", 1, "shared");
  auto idOf = [](const Joined& j) { return j.member.channels.at(0).channelId; };
  const Joined alice = s.join("meet", "", "alice", {{kAssignChannel, "10.0.0.1:7000", ""}}, 2);
  const Joined bob = s.join("meet", "", "bob", {{kAssignChannel, "10.0.0.2:7000", ""}}, 3);
  CHECK(idOf(alice) == 2);
  CHECK(idOf(bob) == 3);
  // What the others see is what was handed out.
  const auto ms = s.members("meet", alice.member.id, alice.token);
  REQUIRE(ms.size() == 2);
  CHECK(ms[1].channels.at(0).channelId == 3);
  // bob leaves: his id is not handed out again (chunks of his may still be about).
  s.leave("meet", bob.member.id, bob.token);
  CHECK(idOf(s.join("meet", "", "carol", {{kAssignChannel, "10.0.0.3:7000", ""}}, 4)) == 4);
  // A member joining again asks for its id back: free, it is its; another's, refused.
  CHECK(idOf(s.join("meet", "", "bob", {{3, "10.0.0.2:7000", ""}}, 5)) == 3);
  CHECK(failure([&] { s.join("meet", "", "dave", {{2, "10.0.0.4:7000", ""}}, 6); }) ==
        std::string(toString(StoreError::kConflict)));
  CHECK(s.group("meet").members == 3);  // the refused join left nothing behind
  // An id chosen ahead of the counter is never handed out after it.
  CHECK(idOf(s.join("meet", "", "frank", {{9, "10.0.0.6:7000", ""}}, 6)) == 9);
  CHECK(idOf(s.join("meet", "", "grace", {{kAssignChannel, "10.0.0.7:7000", ""}}, 6)) == 10);
  // Each group counts from the start; per-source's id is everyone's.
  CHECK(idOf(s.join("other", "", "erin", {{kAssignChannel, "10.0.0.5:7000", ""}}, 7)) == 2);
  s.createGroup("plain", "", 1);
  CHECK(idOf(s.join("plain", "", "x", kCam, 8)) == kPerSourceChannel);
  CHECK(idOf(s.join("plain", "", "y", kCam, 9)) == kPerSourceChannel);
}

TEST_CASE("members that stop beating expire, beating keeps them") {
  TempDb db;
  GroupStore s(db.path);
  s.createGroup("g", "", 0);
  const Joined a = s.join("g", "", "alice", kCam, 0);
  const Joined b = s.join("g", "", "bob", kCam, 0);
  s.heartbeat("g", a.member.id, a.token, 9'000'000);
  CHECK(s.expire(5'000'000, 10'000'000).empty());
  CHECK(s.expire(12'000'000, 10'000'000) == std::vector<std::string>{"g"});  // bob: silent since 0
  const auto ms = s.members("g", a.member.id, a.token);
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].name == "alice");
  CHECK(failure([&] { s.heartbeat("g", b.member.id, b.token, 12'000'001); }) == std::string(toString(StoreError::kNotFound)));
}

TEST_CASE("everything committed is there after reopening the database") {
  TempDb db;
  std::string id, token;
  {
    GroupStore s(db.path);
    s.createGroup("kept", "pw", 1);
    const Joined j = s.join("kept", "pw", "alice", kCam, 2);
    id = j.member.id;
    token = j.token;
  }
  GroupStore again(db.path);
  CHECK(again.group("kept").hasPassword);
  const auto ms = again.members("kept", id, token);
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].channels.at(0).bootstrap == "10.0.0.1:7000");
}

TEST_CASE("a database path that cannot be opened is a clear error") {
  CHECK_THROWS_WITH_AS(GroupStore("/nonexistent-dir/x.db"), doctest::Contains("cannot open database"),
                       std::runtime_error);
}
