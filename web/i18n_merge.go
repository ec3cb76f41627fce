package web

// The console's strings for merging and splitting tickets
// (static/js/ticketmerge.js).

func mergeStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"merge_into":         "Slå ihop med…",
			"merge_title":        "Slå ihop ärende #{number} med ett annat ärende",
			"merge_target":       "Ärende att slå ihop med",
			"merge_hint":         "Meddelandena flyttas till det valda ärendet, och det här ärendet stängs med en länk dit.",
			"merge_none":         "Kunden har inget annat ärende att slå ihop med.",
			"merge_button":       "Slå ihop",
			"merge_confirm":      "Slå ihop ärende #{from} med ärende #{into}? Meddelandena flyttas dit och #{from} stängs.",
			"merged_done":        "Ärende #{from} slogs ihop med #{into}.",
			"merged_into_notice": "Det här ärendet har slagits ihop med ett annat ärende.",
			"open_merged_into":   "Öppna det ärendet",
			"split":              "Dela upp…",
			"split_mode_hint":    "Välj de meddelanden som ska flyttas till ett nytt ärende.",
			"split_select":       "Flytta till det nya ärendet: {message}",
			"split_count":        "{n} valda",
			"split_button":       "Dela upp",
			"split_button_n":     "Flytta {n} till ett nytt ärende",
			"split_need_one":     "Välj minst ett meddelande.",
			"split_not_all":      "Minst ett meddelande måste stanna kvar i ärendet.",
			"split_confirm":      "Flytta {n} meddelanden från #{number} till ett nytt ärende för samma kund?",
			"split_done":         "Ärende #{number} skapades av {n} meddelanden.",
			"split_from_notice":  "Utdelat från ett annat ärende.",
			"open_split_from":    "Öppna ursprungsärendet",
			"thread_merged":      "Flyttades hit när ärenden slogs ihop",
			"thread_split":       "Flyttades hit när det delades ut från ett annat ärende",
		}
	}
	return catalog{
		"merge_into":         "Merge into…",
		"merge_title":        "Merge ticket #{number} into another ticket",
		"merge_target":       "Ticket to merge into",
		"merge_hint":         "Its messages move to the chosen ticket, and this ticket is closed with a link to it.",
		"merge_none":         "This customer has no other ticket to merge into.",
		"merge_button":       "Merge",
		"merge_confirm":      "Merge ticket #{from} into ticket #{into}? Its messages move there and #{from} is closed.",
		"merged_done":        "Ticket #{from} was merged into #{into}.",
		"merged_into_notice": "This ticket was merged into another ticket.",
		"open_merged_into":   "Open that ticket",
		"split":              "Split…",
		"split_mode_hint":    "Select the messages to move to a new ticket.",
		"split_select":       "Move to the new ticket: {message}",
		"split_count":        "{n} selected",
		"split_button":       "Split",
		"split_button_n":     "Move {n} to a new ticket",
		"split_need_one":     "Select at least one message.",
		"split_not_all":      "At least one message must stay on this ticket.",
		"split_confirm":      "Move {n} messages from #{number} to a new ticket of the same customer?",
		"split_done":         "Ticket #{number} was made of {n} messages.",
		"split_from_notice":  "Split from another ticket.",
		"open_split_from":    "Open the original ticket",
		"thread_merged":      "Moved here when its ticket was merged into this one",
		"thread_split":       "Moved here when it was split off another ticket",
	}
}
