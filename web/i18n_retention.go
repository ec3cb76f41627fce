package web

// The console's strings for the Retention page (static/js/retention.js) and
// the placeholder of a file that retention removed (timeline.js).

func retentionStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"retention":                  "Gallring",
			"retention_intro":            "Svar raderar dagligen det som är äldre än dessa gränser, en gång för hela klustret. 0 behåller allt.",
			"retention_solved_days":      "Radera lösta och stängda ärenden efter (dagar)",
			"retention_solved_hint":      "Ärendet, dess meddelanden och bilagor raderas; ärendenumret finns kvar för bokföringen. En kund utan andra ärenden raderas helt.",
			"retention_attachments_days": "Radera bilagor efter (dagar)",
			"retention_attachments_hint": "Filerna i meddelanden som är äldre raderas, oavsett ärendets status; ärendet och texten finns kvar.",
			"retention_check":            "Visa vad som skulle raderas",
			"retention_save":             "Spara gallring",
			"retention_would_erase":      "Nu skulle {tickets} ärenden, {customers} kunder och {attachments} bilagor raderas.",
			"retention_keeps_all":        "Allt behålls: inget raderas.",
			"retention_confirm":          "{preview} Spara gallringen? Raderingen går inte att ångra.",
			"retention_saved":            "Gallringen sparades.",
			"attachment_removed":         "{name}: borttagen av gallringen",
		}
	}
	return catalog{
		"retention":                  "Retention",
		"retention_intro":            "Svar erases what is older than these limits once a day, once for the whole cluster. 0 keeps everything.",
		"retention_solved_days":      "Erase solved and closed tickets after (days)",
		"retention_solved_hint":      "The ticket, its messages and files are erased; the ticket number stays for the books. A customer with no other tickets is erased whole.",
		"retention_attachments_days": "Erase attachments after (days)",
		"retention_attachments_hint": "The files of older messages are erased whatever the ticket's status; the ticket and the text stay.",
		"retention_check":            "Show what would be erased",
		"retention_save":             "Save retention",
		"retention_would_erase":      "Now {tickets} tickets, {customers} customers and {attachments} attachments would be erased.",
		"retention_keeps_all":        "Everything is kept: nothing is erased.",
		"retention_confirm":          "{preview} Save the retention setting? Erasure cannot be undone.",
		"retention_saved":            "Retention saved.",
		"attachment_removed":         "{name}: removed by retention",
	}
}
