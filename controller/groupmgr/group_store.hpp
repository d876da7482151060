// The group manager's state: groups (optionally password-protected), their
// members with the channels they publish (bootstrap endpoints), heartbeats
// and expiry. Backed by SQLite in WAL mode with synchronous=FULL, so a
// committed change survives kill -9 (and power loss). Every mutation bumps
// the group's version, which change notification (long-poll) waits on.
// Time is a parameter; secrets are stored as salted hashes only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;

namespace partyhub::groupmgr {

/// Channel ids in a join: 0 asks the manager for one (it hands out 2, 3, ...
/// in each group, never the same twice); 1 is the per-source layout's, which
/// every member's channel has (an overlay each: ids need not differ).
constexpr std::uint32_t kAssignChannel = 0;
constexpr std::uint32_t kPerSourceChannel = 1;
constexpr std::uint32_t kFirstAssignedChannel = 2;
constexpr std::uint32_t kLargestCountedChannel = 1u << 14;  // two bytes as a varint

struct Channel {
  std::uint32_t channelId = kAssignChannel;
  std::string bootstrap;  // HOST:PORT of the member's source streamer for this channel
  std::string kind;       // free-form: "camera", "screen", ...
};

struct Member {
  std::string id;
  std::string name;
  std::int64_t joinedUs = 0;
  std::int64_t lastBeatUs = 0;
  std::vector<Channel> channels;
};

struct GroupInfo {
  std::string name;
  std::string layout = "per-source";  // how members carry channels: every member uses the group's
  bool hasPassword = false;
  std::int64_t version = 0;
  std::size_t members = 0;
};

struct Joined {
  Member member;
  std::string token;  // shown once; only its hash is stored
  std::int64_t version = 0;
};

/// What went wrong, for the REST layer to map to a status.
enum class StoreError { kNotFound, kExists, kBadPassword, kBadToken, kInvalid, kConflict };
const char* toString(StoreError e);

class StoreFailure : public std::runtime_error {
 public:
  StoreFailure(StoreError code, const std::string& what) : std::runtime_error(what), mCode(code) {}
  [[nodiscard]] StoreError code() const { return mCode; }

 private:
  StoreError mCode;
};

class GroupStore {
 public:
  /// Opens (creating) the database at `path`; throws std::runtime_error.
  explicit GroupStore(const std::string& path);
  ~GroupStore();
  GroupStore(const GroupStore&) = delete;
  GroupStore& operator=(const GroupStore&) = delete;

  /// `layout`: "per-source" or "shared" (the controller's layouts).
  GroupInfo createGroup(const std::string& name, const std::string& password, std::int64_t nowUs,
                        const std::string& layout = "per-source");
  [[nodiscard]] std::vector<GroupInfo> groups() const;
  [[nodiscard]] GroupInfo group(const std::string& name) const;

  /// A non-empty `layout` must be the group's (kConflict otherwise). Channels
  /// with id kAssignChannel get the group's next id; any other id but
  /// kPerSourceChannel must be no other member's (kConflict otherwise).
  Joined join(const std::string& group, const std::string& password, const std::string& memberName,
              const std::vector<Channel>& channels, std::int64_t nowUs, const std::string& layout = "");
  void leave(const std::string& group, const std::string& memberId, const std::string& token);
  void heartbeat(const std::string& group, const std::string& memberId, const std::string& token, std::int64_t nowUs);
  /// Members of a group; the caller must be one of them (its token).
  [[nodiscard]] std::vector<Member> members(const std::string& group, const std::string& memberId,
                                            const std::string& token) const;
  /// Removes members whose last heartbeat is older than `timeoutUs`; returns
  /// the groups that changed.
  std::vector<std::string> expire(std::int64_t nowUs, std::int64_t timeoutUs);

 private:
  void exec(const char* sql) const;
  void authenticate(const std::string& group, const std::string& memberId, const std::string& token) const;
  void bump(const std::string& group);
  std::vector<Channel> assignChannels(const std::string& group, std::vector<Channel> channels);
  [[nodiscard]] std::vector<Member> membersOf(const std::string& group) const;

  sqlite3* mDb = nullptr;
};

/// Validation shared by the store and the REST layer.
[[nodiscard]] bool validName(const std::string& s);      // 1..64 chars, printable, no '/'
[[nodiscard]] bool validEndpoint(const std::string& s);  // HOST:PORT

}  // namespace partyhub::groupmgr
