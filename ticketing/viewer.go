package ticketing

import "slices"

// Roles an agent can have.
const (
	RoleAdmin  = "admin"  // everything
	RoleAgent  = "agent"  // works the tickets of their teams
	RoleViewer = "viewer" // reads the tickets of their teams, changes nothing
)

// Viewer is who is reading. Every read path (lists, counts, search, the
// ticket, the customer, attachments, live events) takes one and shows only
// what Viewer.CanSee allows. The zero Viewer is the system itself and sees
// everything.
type Viewer struct {
	AgentID string
	Role    string
	// All is true for admins and the system: no team scoping.
	All bool
	// TeamIDs are the teams whose tickets the viewer sees: their own teams
	// and every team that is visible_to_all.
	TeamIDs []string
	// OwnTeamIDs are the teams the agent belongs to (not those merely
	// visible to all): what team=mine and the "My teams" view select. They
	// never widen what CanSee allows.
	OwnTeamIDs []string
}

// MineTeams is the team ids team=mine selects for v (never nil).
func (v Viewer) MineTeams() []string {
	if v.OwnTeamIDs == nil {
		return []string{}
	}
	return v.OwnTeamIDs
}

// System is the viewer for internal jobs: it sees everything.
var System = Viewer{All: true}

// CanSee reports whether v may see t: it is theirs, its team is one of
// v.TeamIDs, or it has no team.
func (v Viewer) CanSee(t *Ticket) bool {
	if v.All || (v.AgentID == "" && v.Role == "") {
		return true
	}
	if t.TeamID == "" || (v.AgentID != "" && t.AssigneeID == v.AgentID) {
		return true
	}
	return slices.Contains(v.TeamIDs, t.TeamID)
}
