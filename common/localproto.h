/*
 * localproto.h - frames between kurir-send and kurir-local.
 *
 * kurir-local is a long-running worker that runs as the mail user,
 * chrooted to mail_dir, and writes messages into Maildirs.  kurir-send
 * (the queue user) opens the queue entry and passes the open descriptor,
 * so kurir-local never sees the queue and kurir-send never the mail tree.
 *
 *   LP_DELIVER  id = request number (echoed in the answer)
 *               fd = the queue entry, opened read-only
 *               payload = "offset\0size\0mailbox\0return-path\0delivered-to\0"
 *                 and optionally "[!]tag\0"
 *                 offset, size: decimal, the message bytes in the entry
 *                 mailbox: the user name (a directory under mail_dir)
 *                 return-path: the envelope sender ("" for <>)
 *                 delivered-to: the final mailbox address, after aliases
 *                 tag: "<queue id>-<recipient index>", put into the file
 *                 name ("...K<tag>.<host>"); with '!' kurir-local first
 *                 looks in new/ and cur/ for a file with that tag and, if
 *                 there is one, answers LP_OK without a second copy (a
 *                 copy made before a crash whose result was lost)
 *   answers, same id, payload = enhanced status code and text:
 *   LP_OK       "2.0.0 delivered to maildir"
 *   LP_TEMP     "4.x.x why"  (disk full, quota, unwritable: retry later)
 *   LP_PERM     "5.x.x why"  (bad mailbox name, Delivered-To loop)
 * Requests that arrive together are made durable together: each file is
 * written and fdatasync'd, linked into new/, and each new/ directory is
 * fsync'd once for the batch before any answer is sent.
 */
#ifndef KURIR_LOCALPROTO_H
#define KURIR_LOCALPROTO_H

enum localproto_type {
	LP_DELIVER = 1,
	LP_OK = 10,
	LP_TEMP,
	LP_PERM,
};

#endif
