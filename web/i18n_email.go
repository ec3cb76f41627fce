package web

// emailStrings are the console's texts about how a mail was taken in: what
// was left out of it, its original, and whether its sender was verified.
func emailStrings(lang string) catalog {
	if lang == langSwedish {
		return catalog{
			"truncated_heading":          "Delar av mejlet saknas här",
			"truncated_more":             "och {n} till",
			"truncated_see_original":     "Originalmejlet innehåller allt.",
			"truncated_part":             "del {part}",
			"drop_too_many_attachments":  "fler än 100 bilagor",
			"drop_attachment_too_large":  "bilagan är för stor",
			"drop_attachments_too_large": "mejlets bilagor är för stora tillsammans",
			"drop_store_too_large":       "för stor för lagringen",
			"drop_too_deep":              "för djupt inbäddad",
			"drop_too_many_parts":        "mejlet har för många delar",
			"drop_not_scanned":           "resten av mejlet lästes inte",
			"download_original":          "Ladda ner originalet (.eml)",
			"sender_unverified":          "Avsändaren kunde inte verifieras",
			"sender_unverified_detail":   "Den mottagande e-postservern underkände avsändaradressen ({result}). Mejlet kan vara förfalskat: lämna inte ut kunduppgifter eller ändra beställningar på grund av det.",
			"orders_hidden_unverified":   "Beställningarna visas inte: det senaste mejlet kommer från en overifierad avsändare.",
			"sender_via_reply_to":        "Mejlet kom från supportadressen själv för någon annans räkning (Reply-To, som från ett kontaktformulär). Ingen har bekräftat den adressen: lämna inte ut kunduppgifter på grund av det.",
		}
	}
	return catalog{
		"truncated_heading":          "Parts of this mail are missing here",
		"truncated_more":             "and {n} more",
		"truncated_see_original":     "The original mail has everything.",
		"truncated_part":             "part {part}",
		"drop_too_many_attachments":  "more than 100 attachments",
		"drop_attachment_too_large":  "the attachment is too large",
		"drop_attachments_too_large": "the mail's attachments are too large together",
		"drop_store_too_large":       "too large for the store",
		"drop_too_deep":              "nested too deeply",
		"drop_too_many_parts":        "the mail has too many parts",
		"drop_not_scanned":           "the rest of the mail was not read",
		"download_original":          "Download the original (.eml)",
		"sender_unverified":          "The sender could not be verified",
		"sender_unverified_detail":   "The receiving mail server failed the sender's address ({result}). The mail may be forged: do not give out customer details or change orders on the strength of it.",
		"orders_hidden_unverified":   "Orders are not shown: the latest mail is from an unverified sender.",
		"sender_via_reply_to":        "The mail came From the support address itself on someone else's behalf (Reply-To, as from a contact form). Nobody has confirmed that address: do not give out customer details on the strength of it.",
	}
}
