package web

// The console's strings for service levels: business hours, SLA policies,
// the out-of-hours reply and the SLA badge (static/js/sla.js).

func slaStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"service_levels": "Servicenivåer", "business_hours": "Öppettider",
			"hours_for": "Öppettider för", "hours_of_shop": "Butiken",
			"team_hours_hint": "Ett team utan egna öppettider följer butikens. Spara för att ge teamet egna.", "timezone": "Tidszon",
			"open_hours_per_day": "Öppet per dag", "open_hours_hint": "Till exempel 08:00-12:00, 13:00-17:00. Tomt: stängt.",
			"day_mon": "Måndag", "day_tue": "Tisdag", "day_wed": "Onsdag", "day_thu": "Torsdag", "day_fri": "Fredag",
			"day_sat": "Lördag", "day_sun": "Söndag",
			"swedish_holidays": "Stängt på svenska helgdagar, midsommarafton, julafton och nyårsafton",
			"closed_dates":     "Extra stängda dagar", "open_dates": "Extra öppna dagar", "dates_hint": "ÅÅÅÅ-MM-DD, en per rad.",
			"save_business_hours": "Spara öppettider", "open_now": "Öppet nu.", "closed_now": "Stängt nu. Vi öppnar {time}.",
			"sla_policies": "SLA-regler", "add_sla_policy": "Lägg till SLA-regel", "position": "Ordning", "sla_match": "Gäller",
			"match_priority": "Prioritet (kommaseparerad)", "match_channel": "Kanal (kommaseparerad)", "match_tier": "Kundnivå (kommaseparerad)",
			"first_response": "Första svar", "next_response": "Nästa svar", "resolution": "Lösning",
			"targets_hint": "Tider som 15m, 4h eller 90s. Minst en krävs.", "count_business_hours": "Räkna bara öppettid",
			"sla_all_tickets": "Alla ärenden", "delete": "Ta bort", "added_policy": "Regeln {name} lades till.",
			"deleted_policy":     "Regeln {name} togs bort.",
			"auto_reply":         "Automatiskt svar utanför öppettid",
			"auto_reply_hint":    "Ett ärendes första meddelande utanför öppettid får ett svar på sin kanal. {{next_open}} blir tiden då ni öppnar.",
			"auto_reply_enabled": "Skicka automatiskt svar", "auto_reply_text_en": "Text på engelska", "auto_reply_text_sv": "Text på svenska",
			"save_auto_reply": "Spara automatiskt svar",
			"sla_minutes":     "{n} min", "sla_hours": "{n} h {m} min", "sla_days": "{n} d", "sla_due_in": "SLA om {time}",
			"sla_overdue": "SLA passerad för {time} sedan", "sla_breached": "SLA bruten", "sla_paused": "SLA pausad",
			"sla_due_at": "Förfaller {time}",
		}
	}
	return catalog{
		"service_levels": "Service levels", "business_hours": "Business hours",
		"hours_for": "Hours for", "hours_of_shop": "The shop",
		"team_hours_hint": "A team without hours of its own keeps the shop's. Save to give the team its own.", "timezone": "Timezone",
		"open_hours_per_day": "Open hours per day", "open_hours_hint": "For example 08:00-12:00, 13:00-17:00. Empty: closed.",
		"day_mon": "Monday", "day_tue": "Tuesday", "day_wed": "Wednesday", "day_thu": "Thursday", "day_fri": "Friday",
		"day_sat": "Saturday", "day_sun": "Sunday",
		"swedish_holidays": "Closed on Swedish public holidays, Midsommarafton, Julafton and Nyårsafton",
		"closed_dates":     "Extra closed dates", "open_dates": "Extra open dates", "dates_hint": "YYYY-MM-DD, one per line.",
		"save_business_hours": "Save business hours", "open_now": "Open now.", "closed_now": "Closed now. We open {time}.",
		"sla_policies": "SLA policies", "add_sla_policy": "Add SLA policy", "position": "Order", "sla_match": "Applies to",
		"match_priority": "Priority (comma-separated)", "match_channel": "Channel (comma-separated)", "match_tier": "Customer tier (comma-separated)",
		"first_response": "First response", "next_response": "Next response", "resolution": "Resolution",
		"targets_hint": "Times like 15m, 4h or 90s. At least one is required.", "count_business_hours": "Count business hours only",
		"sla_all_tickets": "All tickets", "delete": "Delete", "added_policy": "Policy {name} added.",
		"deleted_policy":     "Policy {name} deleted.",
		"auto_reply":         "Automatic reply outside business hours",
		"auto_reply_hint":    "A ticket's first message outside business hours gets one reply on its channel. {{next_open}} becomes the time you open.",
		"auto_reply_enabled": "Send an automatic reply", "auto_reply_text_en": "English text", "auto_reply_text_sv": "Swedish text",
		"save_auto_reply": "Save automatic reply",
		"sla_minutes":     "{n} min", "sla_hours": "{n} h {m} min", "sla_days": "{n} d", "sla_due_in": "SLA in {time}",
		"sla_overdue": "SLA overdue by {time}", "sla_breached": "SLA breached", "sla_paused": "SLA paused",
		"sla_due_at": "Due {time}",
	}
}

// withSLA adds the service-level strings to c (keys c has win).
func withSLA(c catalog, lang string) catalog {
	for k, v := range slaStrings(lang) {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	return c
}
