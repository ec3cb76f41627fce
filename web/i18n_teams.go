package web

// The console's strings for teams, roles, routing, availability and
// notifications (static/js/teams.js, agents.js, confirm.js, notices.js).

func teamsStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"teams": "Team", "routing": "Ärendefördelning", "create_team": "Skapa team", "team_name": "Teamets namn",
			"auto_assign": "Fördela ärenden automatiskt", "visible_to_all": "Synligt för alla",
			"team_created": "Teamet {name} skapades.", "team_saved": "Teamet {name} sparades.",
			"members": "Medlemmar", "members_of": "Medlemmar i {name}", "no_members": "Inga medlemmar än.",
			"remove": "Ta bort", "add_member": "Lägg till medlem", "choose_agent": "Välj handläggare",
			"choose_agent_first": "Välj en handläggare först.", "member_added": "{name} lades till i {team}.",
			"member_removed": "{name} togs bort från {team}.", "no_teams": "Inga team än.",
			"confirm": "Bekräfta", "are_you_sure": "Är du säker?",
			"confirm_remove_member": "Ta bort {name} från {team}?",
			"confirm_deactivate":    "Inaktivera {name}? Hen loggas ut överallt direkt.",
			"confirm_demote":        "Ändra {name} från administratör till {role}?", "change_role": "Ändra roll",
			"role_viewer": "Läsare", "role_of": "Roll för {name}", "role_changed": "{name} är nu {role}.",
			"teams_of": "Team för {name}", "teams_saved": "Team för {name} sparades.",
			"capacity": "Kapacitet", "capacity_of": "Kapacitet för {name}", "capacity_saved": "Kapacitet för {name}: {n}.",
			"channel": "Kanal", "tier": "Kundnivå", "any": "Alla", "choose_team": "Välj team", "no_team": "Inget team",
			"rule_n": "Regel {n}", "rule_words": "Ord (kommaseparerade)", "remove_rule": "Ta bort regeln",
			"rule_removed": "Regeln togs bort.", "add_rule": "Lägg till regel", "default_team": "Standardteam",
			"save_routing": "Spara fördelning", "routing_saved": "Fördelningen sparades.",
			"routing_hint": "Ett nytt ärende får teamet från den första regel där alla ifyllda villkor stämmer, annars standardteamet.",
			"availability": "Tillgänglighet", "avail_online": "Tillgänglig", "avail_away": "Borta", "avail_offline": "Offline",
			"availability_set": "Du är nu {status}.",
			"notifications":    "Notiser", "notifications_unread": "{n} olästa", "no_notifications": "Inga notiser.",
			"mark_all_read": "Markera alla som lästa", "mark_read": "Markera som läst",
			"kind_mention": "Omnämnande", "kind_assigned": "Tilldelat", "kind_sla": "SLA",
			"desktop_notifications":      "Skrivbordsnotiser",
			"desktop_notifications_hint": "Visa en notis från webbläsaren när du nämns eller får ett ärende.",
			"enable_desktop":             "Slå på skrivbordsnotiser", "desktop_on": "Skrivbordsnotiser är på.",
			"desktop_denied": "Webbläsaren tillåter inte notiser för Svar.", "disable_desktop": "Stäng av skrivbordsnotiser",
			"notification_sound": "Spela ett ljud vid nya notiser",
			"my_team":            "Mitt team", "mention_agents": "Handläggare att nämna",
		}
	}
	return catalog{
		"teams": "Teams", "routing": "Routing", "create_team": "Create team", "team_name": "Team name",
		"auto_assign": "Assign tickets automatically", "visible_to_all": "Visible to everyone",
		"team_created": "Team {name} created.", "team_saved": "Team {name} saved.",
		"members": "Members", "members_of": "Members of {name}", "no_members": "No members yet.",
		"remove": "Remove", "add_member": "Add member", "choose_agent": "Choose an agent",
		"choose_agent_first": "Choose an agent first.", "member_added": "{name} added to {team}.",
		"member_removed": "{name} removed from {team}.", "no_teams": "No teams yet.",
		"confirm": "Confirm", "are_you_sure": "Are you sure?",
		"confirm_remove_member": "Remove {name} from {team}?",
		"confirm_deactivate":    "Deactivate {name}? They are signed out everywhere at once.",
		"confirm_demote":        "Change {name} from admin to {role}?", "change_role": "Change role",
		"role_viewer": "Viewer", "role_of": "Role of {name}", "role_changed": "{name} is now {role}.",
		"teams_of": "Teams of {name}", "teams_saved": "Teams of {name} saved.",
		"capacity": "Capacity", "capacity_of": "Capacity of {name}", "capacity_saved": "Capacity of {name}: {n}.",
		"channel": "Channel", "tier": "Tier", "any": "Any", "choose_team": "Choose a team", "no_team": "No team",
		"rule_n": "Rule {n}", "rule_words": "Words (comma separated)", "remove_rule": "Remove rule",
		"rule_removed": "Rule removed.", "add_rule": "Add rule", "default_team": "Default team",
		"save_routing": "Save routing", "routing_saved": "Routing saved.",
		"routing_hint": "A new ticket gets the team of the first rule whose filled-in conditions all match, else the default team.",
		"availability": "Availability", "avail_online": "Online", "avail_away": "Away", "avail_offline": "Offline",
		"availability_set": "You are now {status}.",
		"notifications":    "Notifications", "notifications_unread": "{n} unread", "no_notifications": "No notifications.",
		"mark_all_read": "Mark all read", "mark_read": "Mark read",
		"kind_mention": "Mention", "kind_assigned": "Assigned", "kind_sla": "SLA",
		"desktop_notifications":      "Desktop notifications",
		"desktop_notifications_hint": "Show a browser notification when you are mentioned or given a ticket.",
		"enable_desktop":             "Turn on desktop notifications", "desktop_on": "Desktop notifications are on.",
		"desktop_denied": "The browser does not allow notifications for Svar.", "disable_desktop": "Turn off desktop notifications",
		"notification_sound": "Play a sound for new notifications",
		"my_team":            "My team", "mention_agents": "Agents to mention",
	}
}

func withTeams(c catalog, lang string) catalog {
	for k, v := range teamsStrings(lang) {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	return c
}
