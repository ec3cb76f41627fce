package web

import (
	"net/http"
	"strings"
)

// The console speaks English (the default) and Swedish, chosen per agent
// (Agent.Language). The login page, where nobody is known yet, follows the
// browser's Accept-Language. Every string the pages and modules show is
// here, so a translation is one place to change.

const (
	langEnglish = "en"
	langSwedish = "sv"
)

// catalog maps a message key to its text in one language.
type catalog map[string]string

// get returns the text of key, or the key itself if it is missing (a test
// checks that both languages have every key).
func (c catalog) get(key string) string {
	if s, ok := c[key]; ok {
		return s
	}
	return key
}

// clientStrings is the catalog the browser modules get in the boot block.
func (c catalog) clientStrings() map[string]string { return c }

// langOf returns a supported language for an agent's setting.
func langOf(l string) string {
	if l == langSwedish {
		return langSwedish
	}
	return langEnglish
}

// langFromRequest picks the login page's language: ?lang=, else the first
// of Accept-Language that Svar speaks, else English.
func langFromRequest(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == langSwedish || l == langEnglish {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case tag == "sv" || strings.HasPrefix(tag, "sv-"):
			return langSwedish
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return langEnglish
		}
	}
	return langEnglish
}

// catalogFor returns the catalog of a language. The catalogs are built on
// each call: they are small, and nothing shared can be changed by accident.
func catalogFor(lang string) catalog {
	c := english()
	if lang == langSwedish {
		c = swedish()
	}
	c.merge(emailStrings(lang))
	c.merge(queryStrings(lang))
	c.merge(mergeStrings(lang))
	c.merge(reportStrings(lang))
	c.merge(retentionStrings(lang))
	return withCustomer(withTeams(withSLA(withComposer(c, lang), lang), lang), lang)
}

// merge adds the entries of more to c.
func (c catalog) merge(more catalog) {
	for k, v := range more {
		c[k] = v
	}
}

func english() catalog {
	return catalog{
		"csat_badge": "Satisfaction {score}/5",
		// Reports page
		"reports":                "Reports",
		"report_created":         "Created",
		"report_solved":          "Solved",
		"report_per_day":         "Tickets created and solved per day",
		"report_per_day_desc":    "{n} tickets created over {days} days; each day has a bar for created and one for solved.",
		"report_none":            "(none)",
		"report_messages_in":     "Messages in",
		"report_messages_out":    "Messages out",
		"report_frt_p50":         "First response, median",
		"report_frt_p90":         "First response, 90th percentile",
		"report_res_p50":         "Resolution, median",
		"report_sla":             "SLA met",
		"report_csat":            "CSAT (share of 4–5)",
		"report_csat_n":          "CSAT answers",
		"report_returning":       "Returning customers",
		"report_csv":             "Download CSV",
		"report_from":            "From",
		"report_to":              "To",
		"report_show":            "Show",
		"report_loading":         "Loading…",
		"report_csat_rate":       "CSAT response rate",
		"report_returning_share": "Returning customers' share",
		"report_by_channel":      "By channel",
		"report_by_type":         "By type",
		"report_by_team":         "By team",
		"report_by_agent":        "By agent",
		"report_overview":        "{from} to {to}, beside {pfrom} to {pto}",
		"report_metric":          "Figure",
		"report_this_period":     "This period",
		"report_previous_period": "Previous period",
		"report_day":             "Day",
		"report_group_channel":   "Channel",
		"report_group_type":      "Type",
		"report_group_team":      "Team",
		"report_group_agent":     "Agent",
		"report_backlog":         "Open backlog by age",
		// Survey page (customers)
		"csat_title":            "How did we do? · Svar",
		"csat_heading":          "How did we do?",
		"csat_pick":             "How satisfied are you with the help you got?",
		"csat_scale":            "Your rating",
		"csat_score_1":          "1 – Very dissatisfied",
		"csat_score_2":          "2 – Dissatisfied",
		"csat_score_3":          "3 – Neutral",
		"csat_score_4":          "4 – Satisfied",
		"csat_score_5":          "5 – Very satisfied",
		"csat_thanks":           "Thank you!",
		"csat_thanks_text":      "Your rating is saved. You can change it below, or tell us more.",
		"csat_comment":          "Anything you want to add? (optional)",
		"csat_send":             "Send",
		"csat_saved":            "Your comment is saved. Thank you!",
		"csat_not_found":        "This survey link does not work",
		"csat_not_found_text":   "The link is not valid or has expired.",
		"csat_bad_score":        "Pick a rating from 1 to 5.",
		"csat_comment_too_long": "The comment is too long: at most 2000 characters.",
		"csat_unavailable":      "The survey is unavailable right now. Please try again soon.",
		// Sign-in page
		"sign_in_title":        "Sign in · Svar",
		"sign_in_heading":      "Sign in to Svar",
		"sign_in":              "Sign in",
		"email":                "Email",
		"password":             "Password",
		"two_factor_code":      "Two-factor code",
		"two_factor_code_hint": "The six digits your authenticator app shows for Svar.",
		"needs_js":             "The Svar console needs JavaScript.",
		"login_need_email":     "Enter your email address.",
		"login_need_password":  "Enter your password.",
		"login_wrong":          "Wrong email or password.",
		"login_code_required":  "This account uses two-factor sign-in. Enter the code from your authenticator app.",
		"login_code_wrong":     "That code is wrong or has expired. Enter the current code.",
		"login_throttled":      "Too many failed attempts. Wait 15 minutes and try again.",

		// Chrome
		"skip_to_content":    "Skip to content",
		"skip_to_list":       "Skip to ticket list",
		"search_tickets":     "Search tickets",
		"search_placeholder": "Search by name, subject or #number",
		"account":            "Account",
		"settings":           "Settings",
		"agents":             "Agents",
		"sign_out":           "Sign out",
		"views":              "Views",
		"keyboard_shortcuts": "Keyboard shortcuts",
		"load_more":          "Load more tickets",
		"close":              "Close",
		"conn_connecting":    "Connecting…",
		"conn_live":          "Live",
		"conn_offline":       "Offline, reconnecting…",
		"key_move":           "Next or previous ticket in the list",
		"key_open":           "Open the selected ticket",
		"key_reply":          "Write a reply",
		"key_note":           "Write an internal note",
		"key_send":           "Send the reply (or add the note) from the text box",
		"key_solve":          "Mark the open ticket solved",
		"key_back":           "Back to the list",
		"key_search":         "Search",
		"key_help":           "Show these shortcuts",
		"open_ticket_first":  "Open a ticket first.",
		"shortcuts_hint":     "Press ? to see the keyboard shortcuts.",

		// Views and list
		"view_open":             "Open",
		"view_mine":             "Mine",
		"view_my_teams":         "My teams",
		"view_unassigned":       "Unassigned",
		"view_pending":          "Pending",
		"view_solved":           "Solved",
		"view_all":              "All",
		"view_empty":            "No tickets here. Nice and calm.",
		"no_matches":            "No tickets match your search.",
		"loaded_more":           "{n} more tickets loaded.",
		"unread":                "Unread",
		"unassigned":            "Unassigned",
		"unknown_customer":      "Unknown customer",
		"unknown_agent":         "Former agent",
		"no_text":               "(no text)",
		"no_ticket_open":        "No ticket open",
		"no_ticket_hint":        "Pick a ticket from the list to read and answer it here.",
		"announce_new_ticket":   "New ticket from {name}.",
		"announce_notification": "Notification: {text}",
		"age_now":               "now",
		"age_min":               "{n} min",
		"age_hour":              "{n} h",
		"age_day":               "{n} d",
		"loading":               "Loading…",

		// Ticket
		"back_to_list":       "Back to the list",
		"ticket_unavailable": "This ticket cannot be shown",
		"opened_on":          "opened {date}",
		"status":             "Status",
		"assignee":           "Assignee",
		"priority":           "Priority",
		"tags":               "Tags",
		"tags_placeholder":   "e.g. return, vip",
		"status_open":        "Open",
		"status_pending":     "Pending",
		"status_solved":      "Solved",
		"status_closed":      "Closed",
		"priority_low":       "Low",
		"priority_normal":    "Normal",
		"priority_high":      "High",
		"priority_urgent":    "Urgent",
		"status_changed":     "Status changed to {status}.",
		"assignee_changed":   "Assigned to {name}.",
		"priority_changed":   "Priority set to {priority}.",
		"tags_saved":         "Tags saved.",
		"you":                "you",
		"conversation":       "Conversation",
		"presence_viewing":   "{name} is viewing",
		"presence_typing":    "{name} is typing…",

		// Timeline
		"channel_email":        "Email",
		"channel_chat":         "Chat",
		"channel_sms":          "SMS",
		"channel_unknown":      "Unknown channel",
		"via_channel":          "via {channel}",
		"to_channel":           "reply by {channel}",
		"internal_note":        "Internal note",
		"delivery":             "Delivery",
		"delivery_queued":      "Queued",
		"delivery_sent":        "Sent",
		"delivery_delivered":   "Delivered",
		"delivery_failed":      "Failed",
		"delivery_via":         "(by {channel})",
		"auto_reply":           "Automatic reply",
		"subject":              "Subject",
		"attachments":          "Attachments",
		"attachment":           "attachment",
		"email_from":           "Email from {name}",
		"show_plain":           "Show plain text",
		"show_formatted":       "Show formatted email",
		"load_images":          "Load remote images",
		"customer":             "Customer",
		"system":               "Svar",
		"announce_new_message": "New message from {name}.",

		// Composer
		"reply":                 "Reply",
		"send":                  "Send",
		"add_note":              "Add note",
		"send_via":              "Send by",
		"reply_hint":            "Ctrl+Enter sends. Notes stay inside the team.",
		"note_mode":             "Writing an internal note: Ctrl+Enter adds it",
		"reply_empty":           "Write something first.",
		"reply_sent":            "Reply sent by {channel}.",
		"note_added":            "Note added. The customer does not see it.",
		"unreachable":           "This customer cannot be reached on any channel. You can still add a note.",
		"opted_out":             "opted out",
		"stale_title":           "The ticket changed while you were typing:",
		"send_anyway":           "Send anyway",
		"keep_editing":          "Keep editing",
		"change_customer_wrote": "The customer wrote: “{text}”",
		"change_agent_wrote":    "{name} answered",
		"change_status":         "The status is now {status}",
		"change_assignee":       "The ticket is now assigned to {name}",

		// Customer sidebar
		"contact":             "Contact",
		"details":             "Details",
		"orders":              "Orders",
		"order_this_ticket":   "This ticket",
		"order_return":        "Return: {status}",
		"order_track":         "Track {carrier}",
		"order_in_shop":       "Open in the shop",
		"past_tickets":        "Other tickets",
		"no_past_tickets":     "No other tickets.",
		"none":                "None",
		"verified":            "Verified",
		"vip":                 "VIP",
		"returning_customer":  "Returning customer, {n} tickets",
		"identity_email":      "Email",
		"identity_phone":      "Phone",
		"identity_chat":       "Chat",
		"identity_external":   "Shop customer id",
		"chat_visitor":        "Chat visitor",
		"opted_out_of":        "Opted out of {channel}",
		"attr_tier":           "Tier",
		"attr_lifetime_value": "Lifetime value",
		"attr_orders":         "Orders",
		"attr_city":           "City",
		"attr_country":        "Country",

		// Settings
		"language":         "Language",
		"console_language": "The console's language",
		"save":             "Save",
		"saved":            "Saved.",
		"profile":          "Profile",
		"name":             "Name",
		"current_password": "Current password",
		"new_password":     "New password",
		"password_hint":    "At least 10 characters. Other devices are signed out.",
		"change_password":  "Change password",
		"password_changed": "Password changed. Your other sessions were signed out.",
		"two_factor":       "Two-factor sign-in",
		"totp_intro":       "Ask for a code from an authenticator app at every sign-in, as well as the password.",
		"totp_set_up":      "Set up two-factor sign-in",
		"totp_scan":        "Scan the QR code with your authenticator app, then enter the code it shows.",
		"totp_qr_alt":      "QR code to add Svar to an authenticator app",
		"totp_manual":      "Cannot scan? Enter this key in the app:",
		"totp_code":        "Code from the app",
		"totp_code_hint":   "Six digits; a new one every 30 seconds.",
		"totp_confirm":     "Turn on",
		"totp_on":          "Two-factor sign-in is on.",
		"totp_off":         "Two-factor sign-in is off.",
		"totp_is_on":       "Two-factor sign-in is on for your account.",
		"totp_turn_off":    "Turn off two-factor sign-in",

		// Agents
		"invite_agent":           "Invite an agent",
		"invite":                 "Invite",
		"invited":                "{name} can now sign in.",
		"one_time_password":      "One-time password:",
		"one_time_password_hint": "Give it to them in person or by a secure channel. It is shown only once; they can change it in Settings.",
		"role":                   "Role",
		"role_agent":             "Agent",
		"role_admin":             "Admin",
		"agent_status":           "Status",
		"actions":                "Actions",
		"active":                 "Active",
		"inactive":               "Deactivated",
		"on":                     "On",
		"off":                    "Off",
		"deactivate":             "Deactivate",
		"reactivate":             "Reactivate",
		"deactivated":            "{name} was deactivated and signed out everywhere.",
		"reactivated":            "{name} can sign in again.",
		"reset_two_factor":       "Turn off two-factor",
		"two_factor_reset":       "Two-factor sign-in turned off for {name}.",

		// Errors
		"err_network": "Svar cannot be reached. Check the connection; nothing was lost.",
		"err_server":  "Something went wrong on the server. Try again in a moment.",
		"err_generic": "That did not work. Try again.",
	}
}

func swedish() catalog {
	return catalog{
		"csat_badge": "Nöjdhet {score}/5",
		// Reports page
		"reports":                "Rapporter",
		"report_created":         "Skapade",
		"report_solved":          "Lösta",
		"report_per_day":         "Ärenden skapade och lösta per dag",
		"report_per_day_desc":    "{n} ärenden skapade under {days} dagar; varje dag har en stapel för skapade och en för lösta.",
		"report_none":            "(inget)",
		"report_messages_in":     "Meddelanden in",
		"report_messages_out":    "Meddelanden ut",
		"report_frt_p50":         "Första svar, median",
		"report_frt_p90":         "Första svar, 90:e percentilen",
		"report_res_p50":         "Lösningstid, median",
		"report_sla":             "SLA uppfyllt",
		"report_csat":            "CSAT (andel 4–5)",
		"report_csat_n":          "CSAT-svar",
		"report_returning":       "Återkommande kunder",
		"report_csv":             "Ladda ned CSV",
		"report_from":            "Från",
		"report_to":              "Till",
		"report_show":            "Visa",
		"report_loading":         "Laddar…",
		"report_csat_rate":       "CSAT-svarsfrekvens",
		"report_returning_share": "Andel återkommande kunder",
		"report_by_channel":      "Per kanal",
		"report_by_type":         "Per typ",
		"report_by_team":         "Per team",
		"report_by_agent":        "Per handläggare",
		"report_overview":        "{from} till {to}, bredvid {pfrom} till {pto}",
		"report_metric":          "Mått",
		"report_this_period":     "Denna period",
		"report_previous_period": "Föregående period",
		"report_day":             "Dag",
		"report_group_channel":   "Kanal",
		"report_group_type":      "Typ",
		"report_group_team":      "Team",
		"report_group_agent":     "Handläggare",
		"report_backlog":         "Öppna ärenden efter ålder",
		// Survey page (customers)
		"csat_title":            "Hur gick det? · Svar",
		"csat_heading":          "Hur gick det?",
		"csat_pick":             "Hur nöjd är du med hjälpen du fick?",
		"csat_scale":            "Ditt betyg",
		"csat_score_1":          "1 – Mycket missnöjd",
		"csat_score_2":          "2 – Missnöjd",
		"csat_score_3":          "3 – Varken eller",
		"csat_score_4":          "4 – Nöjd",
		"csat_score_5":          "5 – Mycket nöjd",
		"csat_thanks":           "Tack!",
		"csat_thanks_text":      "Ditt betyg är sparat. Du kan ändra det nedan eller berätta mer.",
		"csat_comment":          "Något du vill lägga till? (frivilligt)",
		"csat_send":             "Skicka",
		"csat_saved":            "Din kommentar är sparad. Tack!",
		"csat_not_found":        "Länken till enkäten fungerar inte",
		"csat_not_found_text":   "Länken är ogiltig eller har gått ut.",
		"csat_bad_score":        "Välj ett betyg från 1 till 5.",
		"csat_comment_too_long": "Kommentaren är för lång: högst 2000 tecken.",
		"csat_unavailable":      "Enkäten är inte tillgänglig just nu. Försök igen snart.",
		// Sign-in page
		"sign_in_title":        "Logga in · Svar",
		"sign_in_heading":      "Logga in på Svar",
		"sign_in":              "Logga in",
		"email":                "E-post",
		"password":             "Lösenord",
		"two_factor_code":      "Tvåstegskod",
		"two_factor_code_hint": "De sex siffror som din autentiseringsapp visar för Svar.",
		"needs_js":             "Svars konsol behöver JavaScript.",
		"login_need_email":     "Ange din e-postadress.",
		"login_need_password":  "Ange ditt lösenord.",
		"login_wrong":          "Fel e-postadress eller lösenord.",
		"login_code_required":  "Kontot använder tvåstegsinloggning. Ange koden från din autentiseringsapp.",
		"login_code_wrong":     "Koden är fel eller har gått ut. Ange den aktuella koden.",
		"login_throttled":      "För många misslyckade försök. Vänta 15 minuter och försök igen.",

		// Chrome
		"skip_to_content":    "Hoppa till innehållet",
		"skip_to_list":       "Hoppa till ärendelistan",
		"search_tickets":     "Sök ärenden",
		"search_placeholder": "Sök på namn, ämne eller #nummer",
		"account":            "Konto",
		"settings":           "Inställningar",
		"agents":             "Handläggare",
		"sign_out":           "Logga ut",
		"views":              "Vyer",
		"keyboard_shortcuts": "Kortkommandon",
		"load_more":          "Visa fler ärenden",
		"close":              "Stäng",
		"conn_connecting":    "Ansluter…",
		"conn_live":          "Live",
		"conn_offline":       "Frånkopplad, ansluter igen…",
		"key_move":           "Nästa eller föregående ärende i listan",
		"key_open":           "Öppna det valda ärendet",
		"key_reply":          "Skriv ett svar",
		"key_note":           "Skriv en intern anteckning",
		"key_send":           "Skicka svaret (eller lägg till anteckningen) från textrutan",
		"key_solve":          "Markera det öppna ärendet som löst",
		"key_back":           "Tillbaka till listan",
		"key_search":         "Sök",
		"key_help":           "Visa kortkommandona",
		"open_ticket_first":  "Öppna ett ärende först.",
		"shortcuts_hint":     "Tryck ? för att se kortkommandona.",

		// Views and list
		"view_open":             "Öppna",
		"view_mine":             "Mina",
		"view_my_teams":         "Mina team",
		"view_unassigned":       "Ej tilldelade",
		"view_pending":          "Väntande",
		"view_solved":           "Lösta",
		"view_all":              "Alla",
		"view_empty":            "Inga ärenden här. Lugnt och skönt.",
		"no_matches":            "Inga ärenden matchar sökningen.",
		"loaded_more":           "{n} ärenden till har laddats.",
		"unread":                "Oläst",
		"unassigned":            "Ej tilldelad",
		"unknown_customer":      "Okänd kund",
		"unknown_agent":         "Tidigare handläggare",
		"no_text":               "(ingen text)",
		"no_ticket_open":        "Inget ärende öppet",
		"no_ticket_hint":        "Välj ett ärende i listan för att läsa och besvara det här.",
		"announce_new_ticket":   "Nytt ärende från {name}.",
		"announce_notification": "Avisering: {text}",
		"age_now":               "nu",
		"age_min":               "{n} min",
		"age_hour":              "{n} tim",
		"age_day":               "{n} d",
		"loading":               "Laddar…",

		// Ticket
		"back_to_list":       "Tillbaka till listan",
		"ticket_unavailable": "Ärendet kan inte visas",
		"opened_on":          "öppnat {date}",
		"status":             "Status",
		"assignee":           "Handläggare",
		"priority":           "Prioritet",
		"tags":               "Taggar",
		"tags_placeholder":   "t.ex. retur, vip",
		"status_open":        "Öppet",
		"status_pending":     "Väntande",
		"status_solved":      "Löst",
		"status_closed":      "Stängt",
		"priority_low":       "Låg",
		"priority_normal":    "Normal",
		"priority_high":      "Hög",
		"priority_urgent":    "Brådskande",
		"status_changed":     "Status ändrad till {status}.",
		"assignee_changed":   "Tilldelat {name}.",
		"priority_changed":   "Prioritet satt till {priority}.",
		"tags_saved":         "Taggarna har sparats.",
		"you":                "du",
		"conversation":       "Konversation",
		"presence_viewing":   "{name} tittar på ärendet",
		"presence_typing":    "{name} skriver…",

		// Timeline
		"channel_email":        "E-post",
		"channel_chat":         "Chatt",
		"channel_sms":          "SMS",
		"channel_unknown":      "Okänd kanal",
		"via_channel":          "via {channel}",
		"to_channel":           "svar med {channel}",
		"internal_note":        "Intern anteckning",
		"delivery":             "Leverans",
		"delivery_queued":      "I kö",
		"delivery_sent":        "Skickat",
		"delivery_delivered":   "Levererat",
		"delivery_failed":      "Misslyckades",
		"delivery_via":         "(med {channel})",
		"auto_reply":           "Automatiskt svar",
		"subject":              "Ämne",
		"attachments":          "Bilagor",
		"attachment":           "bilaga",
		"email_from":           "E-post från {name}",
		"show_plain":           "Visa som ren text",
		"show_formatted":       "Visa formaterat e-postmeddelande",
		"load_images":          "Ladda externa bilder",
		"customer":             "Kund",
		"system":               "Svar",
		"announce_new_message": "Nytt meddelande från {name}.",

		// Composer
		"reply":                 "Svar",
		"send":                  "Skicka",
		"add_note":              "Lägg till anteckning",
		"send_via":              "Skicka med",
		"reply_hint":            "Ctrl+Enter skickar. Anteckningar stannar inom teamet.",
		"note_mode":             "Du skriver en intern anteckning: Ctrl+Enter lägger till den",
		"reply_empty":           "Skriv något först.",
		"reply_sent":            "Svaret skickades med {channel}.",
		"note_added":            "Anteckningen har lagts till. Kunden ser den inte.",
		"unreachable":           "Kunden kan inte nås i någon kanal. Du kan fortfarande lägga till en anteckning.",
		"opted_out":             "avregistrerad",
		"stale_title":           "Ärendet ändrades medan du skrev:",
		"send_anyway":           "Skicka ändå",
		"keep_editing":          "Fortsätt skriva",
		"change_customer_wrote": "Kunden skrev: ”{text}”",
		"change_agent_wrote":    "{name} svarade",
		"change_status":         "Status är nu {status}",
		"change_assignee":       "Ärendet är nu tilldelat {name}",

		// Customer sidebar
		"contact":             "Kontakt",
		"details":             "Uppgifter",
		"orders":              "Ordrar",
		"order_this_ticket":   "Det här ärendet",
		"order_return":        "Retur: {status}",
		"order_track":         "Spåra {carrier}",
		"order_in_shop":       "Öppna i butiken",
		"past_tickets":        "Andra ärenden",
		"no_past_tickets":     "Inga andra ärenden.",
		"none":                "Inga",
		"verified":            "Verifierad",
		"vip":                 "VIP",
		"returning_customer":  "Återkommande kund, {n} ärenden",
		"identity_email":      "E-post",
		"identity_phone":      "Telefon",
		"identity_chat":       "Chatt",
		"identity_external":   "Kundnummer i butiken",
		"chat_visitor":        "Chattbesökare",
		"opted_out_of":        "Har avregistrerat sig från {channel}",
		"attr_tier":           "Nivå",
		"attr_lifetime_value": "Totalt köpvärde",
		"attr_orders":         "Ordrar",
		"attr_city":           "Ort",
		"attr_country":        "Land",

		// Settings
		"language":         "Språk",
		"console_language": "Konsolens språk",
		"save":             "Spara",
		"saved":            "Sparat.",
		"profile":          "Profil",
		"name":             "Namn",
		"current_password": "Nuvarande lösenord",
		"new_password":     "Nytt lösenord",
		"password_hint":    "Minst 10 tecken. Andra enheter loggas ut.",
		"change_password":  "Byt lösenord",
		"password_changed": "Lösenordet är bytt. Dina andra sessioner har loggats ut.",
		"two_factor":       "Tvåstegsinloggning",
		"totp_intro":       "Kräv en kod från en autentiseringsapp vid varje inloggning, utöver lösenordet.",
		"totp_set_up":      "Aktivera tvåstegsinloggning",
		"totp_scan":        "Skanna QR-koden med din autentiseringsapp och ange sedan koden som visas.",
		"totp_qr_alt":      "QR-kod för att lägga till Svar i en autentiseringsapp",
		"totp_manual":      "Går det inte att skanna? Ange den här nyckeln i appen:",
		"totp_code":        "Kod från appen",
		"totp_code_hint":   "Sex siffror; en ny var 30:e sekund.",
		"totp_confirm":     "Aktivera",
		"totp_on":          "Tvåstegsinloggning är på.",
		"totp_off":         "Tvåstegsinloggning är av.",
		"totp_is_on":       "Tvåstegsinloggning är på för ditt konto.",
		"totp_turn_off":    "Stäng av tvåstegsinloggning",

		// Agents
		"invite_agent":           "Bjud in en handläggare",
		"invite":                 "Bjud in",
		"invited":                "{name} kan nu logga in.",
		"one_time_password":      "Engångslösenord:",
		"one_time_password_hint": "Lämna det personligen eller via en säker kanal. Det visas bara en gång; det kan bytas under Inställningar.",
		"role":                   "Roll",
		"role_agent":             "Handläggare",
		"role_admin":             "Administratör",
		"agent_status":           "Status",
		"actions":                "Åtgärder",
		"active":                 "Aktiv",
		"inactive":               "Inaktiverad",
		"on":                     "På",
		"off":                    "Av",
		"deactivate":             "Inaktivera",
		"reactivate":             "Aktivera igen",
		"deactivated":            "{name} har inaktiverats och loggats ut överallt.",
		"reactivated":            "{name} kan logga in igen.",
		"reset_two_factor":       "Stäng av tvåstegsinloggning",
		"two_factor_reset":       "Tvåstegsinloggning avstängd för {name}.",

		// Errors
		"err_network": "Svar går inte att nå. Kontrollera anslutningen; inget har gått förlorat.",
		"err_server":  "Något gick fel på servern. Försök igen om en stund.",
		"err_generic": "Det gick inte. Försök igen.",
	}
}
