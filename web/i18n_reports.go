package web

// reportStrings are the Reports page's backlog, the agents' satisfaction
// figures, and the console's notification settings and mention list.
func reportStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"backlog_title": "Kö efter ålder", "backlog_desc": "{n} öppna och väntande ärenden.",
			"backlog_all": "Alla", "backlog_others": "Övriga", "backlog_group": "Gruppera efter",
			"backlog_group_none": "Ingenting", "backlog_group_team": "Team", "backlog_group_channel": "Kanal",
			"backlog_key": "Grupp", "backlog_total": "Totalt", "backlog_loading": "Hämtar kön …",
			"backlog_age_under_1h": "< 1 h", "backlog_age_1h_4h": "1–4 h", "backlog_age_4h_24h": "4–24 h",
			"backlog_age_1d_3d": "1–3 d", "backlog_age_3d_7d": "3–7 d", "backlog_age_over_7d": "> 7 d",
			"agent_csat": "Nöjdhet (90 dagar)", "agent_csat_value": "{score} % nöjda av {n} svar",
			"agent_csat_none": "Inga svar än", "assignee_csat": "{name}: {csat}",
			"notif_settings": "Aviseringar", "desktop_blocked_hint": "Tillåt aviseringar för den här webbplatsen i webbläsarens inställningar.",
			"sound_on": "Ljudet är på.", "sound_off": "Ljudet är av.",
			"mention_none": "Ingen agent heter så.", "mention_hint": "Skriv @ för att nämna en agent.",
		}
	}
	return catalog{
		"backlog_title": "Backlog by age", "backlog_desc": "{n} open and pending tickets.",
		"backlog_all": "All", "backlog_others": "Others", "backlog_group": "Group by",
		"backlog_group_none": "Nothing", "backlog_group_team": "Team", "backlog_group_channel": "Channel",
		"backlog_key": "Group", "backlog_total": "Total", "backlog_loading": "Loading the backlog …",
		"backlog_age_under_1h": "< 1 h", "backlog_age_1h_4h": "1–4 h", "backlog_age_4h_24h": "4–24 h",
		"backlog_age_1d_3d": "1–3 d", "backlog_age_3d_7d": "3–7 d", "backlog_age_over_7d": "> 7 d",
		"agent_csat": "Satisfaction (90 days)", "agent_csat_value": "{score} % satisfied of {n} answers",
		"agent_csat_none": "No answers yet", "assignee_csat": "{name}: {csat}",
		"notif_settings": "Notifications", "desktop_blocked_hint": "Allow notifications for this site in the browser's settings.",
		"sound_on": "The sound is on.", "sound_off": "The sound is off.",
		"mention_none": "No agent by that name.", "mention_hint": "Type @ to mention an agent.",
	}
}
