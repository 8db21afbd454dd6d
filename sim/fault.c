// SPDX-License-Identifier: GPL-2.0-only
/* placeholder: not written yet */
