package web

// The console's strings for editing the customer, the customer page and
// the Webhooks page (static/js/customeredit.js, customer.js, webhooks.js).

func customerStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"edit_customer": "Redigera kund", "save_customer": "Spara kund", "customer_saved": "Kunden sparades.",
			"customer_name": "Namn", "tier_hint": "Till exempel vip. Lämna tomt för ingen nivå.",
			"emails": "E-postadresser", "phones": "Telefonnummer", "attributes": "Uppgifter",
			"add_email": "Lägg till e-postadress", "add_phone": "Lägg till telefonnummer",
			"email_n": "E-post {n}", "phone_n": "Telefon {n}",
			"phone_hint": "Svenska nummer går bra som 070-123 45 67.", "row_removed": "Raden togs bort.",
			"add_attribute": "Lägg till uppgift", "attr_n": "uppgift {n}", "attr_name_n": "Namn på uppgift {n}",
			"attr_type_n": "Typ av uppgift {n}", "attr_value_n": "Värde för uppgift {n}",
			"attr_type_string": "Text", "attr_type_number": "Tal", "attr_type_boolean": "Ja/nej", "attr_type_date": "Datum",
			"attr_name_missing": "Uppgift {n} saknar namn.", "attr_name_twice": "Uppgiften {name} finns två gånger.",
			"attr_not_number": "Värdet för uppgift {n} måste vara ett tal.", "attr_not_date": "Värdet för uppgift {n} måste vara ett datum.",
			"customer_timeline": "Kundens historik", "customer_page_title": "Kund: {name}",
			"customer_page_summary": "{n} ärenden som du kan se.", "their_tickets": "Ärenden",
			"timeline_empty": "Inga meddelanden än.", "load_older": "Visa äldre meddelanden",
			"older_loaded": "{n} äldre meddelanden visas.", "timeline_note_by": "Anteckning av {name}",
			"agent": "Handläggare", "ticket": "Ärende", "no_tickets": "Inga ärenden.",
			"webhooks": "Webhooks", "webhooks_hint": "Svar skickar händelser som signerad JSON (Svar-Signature) till adresserna nedan, med nya försök i 24 timmar.",
			"create_webhook": "Skapa webhook", "wh_url": "Adress (URL)", "wh_events": "Händelser", "wh_secret": "Hemlighet",
			"wh_secret_hint":  "Minst 16 tecken. Mottagaren kontrollerar signaturen med den. Den visas inte igen.",
			"webhook_created": "Webhooken till {url} skapades.", "webhook_deleted": "Webhooken till {url} togs bort.",
			"registered_webhooks": "Registrerade webhooks", "no_webhooks": "Inga webhooks än.",
			"show_deliveries": "Visa leveranser", "refresh": "Uppdatera", "delete_webhook": "Ta bort webhook",
			"confirm_delete_webhook": "Ta bort webhooken till {url}? Inga fler händelser skickas dit.",
			"wh_created":             "skapad {at}", "no_deliveries": "Inga leveranser än.", "deliveries_of": "Leveranser till {url}, nyaste först",
			"deliveries_shown": "{n} leveransförsök visas.",
			"wh_event":         "Händelse", "wh_status": "Svar", "wh_attempt": "Försök", "wh_time": "Tid", "wh_error": "Fel",
			"wh_ok": "levererad", "wh_failed": "misslyckades", "wh_gave_up": "gav upp",
		}
	}
	return catalog{
		"edit_customer": "Edit customer", "save_customer": "Save customer", "customer_saved": "Customer saved.",
		"customer_name": "Name", "tier_hint": "For example vip. Leave empty for no tier.",
		"emails": "Emails", "phones": "Phones", "attributes": "Details",
		"add_email": "Add email", "add_phone": "Add phone",
		"email_n": "Email {n}", "phone_n": "Phone {n}",
		"phone_hint": "Swedish numbers may be typed as 070-123 45 67.", "row_removed": "Row removed.",
		"add_attribute": "Add detail", "attr_n": "detail {n}", "attr_name_n": "Name of detail {n}",
		"attr_type_n": "Type of detail {n}", "attr_value_n": "Value of detail {n}",
		"attr_type_string": "Text", "attr_type_number": "Number", "attr_type_boolean": "Yes/no", "attr_type_date": "Date",
		"attr_name_missing": "Detail {n} has no name.", "attr_name_twice": "The detail {name} is there twice.",
		"attr_not_number": "The value of detail {n} must be a number.", "attr_not_date": "The value of detail {n} must be a date.",
		"customer_timeline": "Customer timeline", "customer_page_title": "Customer: {name}",
		"customer_page_summary": "{n} tickets you may see.", "their_tickets": "Tickets",
		"timeline_empty": "No messages yet.", "load_older": "Load older messages",
		"older_loaded": "{n} older messages shown.", "timeline_note_by": "Note by {name}",
		"agent": "Agent", "ticket": "Ticket", "no_tickets": "No tickets.",
		"webhooks": "Webhooks", "webhooks_hint": "Svar POSTs events as signed JSON (Svar-Signature) to the URLs below, retrying for 24 hours.",
		"create_webhook": "Create webhook", "wh_url": "URL", "wh_events": "Events", "wh_secret": "Secret",
		"wh_secret_hint":  "At least 16 characters. The receiver checks the signature with it. It is not shown again.",
		"webhook_created": "Webhook to {url} created.", "webhook_deleted": "Webhook to {url} deleted.",
		"registered_webhooks": "Registered webhooks", "no_webhooks": "No webhooks yet.",
		"show_deliveries": "Show deliveries", "refresh": "Refresh", "delete_webhook": "Delete webhook",
		"confirm_delete_webhook": "Delete the webhook to {url}? No more events are sent there.",
		"wh_created":             "created {at}", "no_deliveries": "No deliveries yet.", "deliveries_of": "Deliveries to {url}, newest first",
		"deliveries_shown": "{n} delivery attempts shown.",
		"wh_event":         "Event", "wh_status": "Status", "wh_attempt": "Attempt", "wh_time": "Time", "wh_error": "Error",
		"wh_ok": "delivered", "wh_failed": "failed", "wh_gave_up": "gave up",
	}
}

func withCustomer(c catalog, lang string) catalog {
	for k, v := range customerStrings(lang) {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	return c
}
