package web

// queryStrings are the console's strings for search, filters, sorts and
// saved views.
func queryStrings(lang string) map[string]string {
	if lang == langSwedish {
		return map[string]string{
			"search_results":      "Sökresultat för ”{q}”",
			"search_none":         "Inget matchar ”{q}”.",
			"search_empty":        "Skriv något att söka efter.",
			"search_found":        "{n} träffar",
			"search_open_hint":    "Tryck Enter i sökrutan för att söka i alla meddelanden.",
			"filters":             "Filter och sortering",
			"sort":                "Sortera",
			"sort_activity":       "Senaste aktivitet",
			"sort_oldest":         "Äldsta först",
			"sort_waiting":        "Väntat längst",
			"sort_due":            "Närmast förfallotid",
			"filter_channel":      "Kanal",
			"filter_priority":     "Prioritet",
			"filter_any":          "Alla",
			"save_view":           "Spara som vy",
			"view_name_prompt":    "Vad ska vyn heta?",
			"view_shared":         "Dela med alla",
			"view_saved":          "Vyn {name} sparades.",
			"saved_views":         "Sparade vyer",
			"matching_message":    "Meddelandet som matchade",
			"result_ticket_label": "#{number} {subject}, {customer}",
		}
	}
	return map[string]string{
		"search_results":      "Search results for “{q}”",
		"search_none":         "Nothing matches “{q}”.",
		"search_empty":        "Type something to search for.",
		"search_found":        "{n} results",
		"search_open_hint":    "Press Enter in the search box to search every message.",
		"filters":             "Filters and sorting",
		"sort":                "Sort",
		"sort_activity":       "Latest activity",
		"sort_oldest":         "Oldest first",
		"sort_waiting":        "Waiting longest",
		"sort_due":            "Due soonest",
		"filter_channel":      "Channel",
		"filter_priority":     "Priority",
		"filter_any":          "Any",
		"save_view":           "Save as view",
		"view_name_prompt":    "What should the view be called?",
		"view_shared":         "Share with everyone",
		"view_saved":          "The view {name} was saved.",
		"saved_views":         "Saved views",
		"matching_message":    "The matching message",
		"result_ticket_label": "#{number} {subject}, {customer}",
	}
}
