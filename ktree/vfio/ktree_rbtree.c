// SPDX-License-Identifier: GPL-2.0-only
/*
 * The red-black tree of ktree/vfio/include/ktree_rbtree.h (see there for
 * why it is pinsim's and why it must shape trees as lib/rbtree.c does).
 */
#include "ktree_rbtree.h"

static bool is_red(const struct rb_node *n)
{
	return n && !n->rb_black;
}

/* @new takes @old's place under @parent (or at the root). */
static void change_child(struct rb_root *root, struct rb_node *parent, struct rb_node *old,
			 struct rb_node *new)
{
	if (!parent)
		root->rb_node = new;
	else if (parent->rb_left == old)
		parent->rb_left = new;
	else
		parent->rb_right = new;
}

/* @x's right child rises to @x's place; @x becomes its left child. */
static void rotate_left(struct rb_root *root, struct rb_node *x)
{
	struct rb_node *y = x->rb_right;

	x->rb_right = y->rb_left;
	if (y->rb_left)
		y->rb_left->rb_parent = x;
	y->rb_parent = x->rb_parent;
	change_child(root, x->rb_parent, x, y);
	y->rb_left = x;
	x->rb_parent = y;
}

static void rotate_right(struct rb_root *root, struct rb_node *x)
{
	struct rb_node *y = x->rb_left;

	x->rb_left = y->rb_right;
	if (y->rb_right)
		y->rb_right->rb_parent = x;
	y->rb_parent = x->rb_parent;
	change_child(root, x->rb_parent, x, y);
	y->rb_right = x;
	x->rb_parent = y;
}

void ktree_rb_insert_color(struct rb_node *z, struct rb_root *root)
{
	struct rb_node *p, *g, *u;

	while ((p = z->rb_parent) && !p->rb_black) {
		bool left = p == (g = p->rb_parent)->rb_left;

		u = left ? g->rb_right : g->rb_left;
		if (is_red(u)) { /* recolour, and go on from the grandparent */
			p->rb_black = u->rb_black = true;
			g->rb_black = false;
			z = g;
			continue;
		}
		if (left) {
			if (z == p->rb_right) { /* inner child: to the outside first */
				rotate_left(root, p);
				p = z;
			}
			rotate_right(root, g);
		} else {
			if (z == p->rb_left) {
				rotate_right(root, p);
				p = z;
			}
			rotate_left(root, g);
		}
		p->rb_black = true;
		g->rb_black = false;
		break;
	}
	root->rb_node->rb_black = true;
}

/* @x (maybe NULL), a child of @parent, is one black short. */
static void erase_fixup(struct rb_root *root, struct rb_node *x, struct rb_node *parent)
{
	while (x != root->rb_node && !is_red(x)) {
		bool left = x == parent->rb_left;
		struct rb_node *w = left ? parent->rb_right : parent->rb_left;
		struct rb_node *near, *far;

		if (is_red(w)) { /* red sibling: rotate it above the parent */
			w->rb_black = true;
			parent->rb_black = false;
			if (left)
				rotate_left(root, parent);
			else
				rotate_right(root, parent);
			w = left ? parent->rb_right : parent->rb_left;
		}
		near = left ? w->rb_left : w->rb_right;
		far = left ? w->rb_right : w->rb_left;
		if (!is_red(near) && !is_red(far)) { /* recolour, move up */
			w->rb_black = false;
			x = parent;
			parent = x->rb_parent;
			continue;
		}
		if (!is_red(far)) { /* near nephew red: rotate the sibling */
			near->rb_black = true;
			w->rb_black = false;
			if (left)
				rotate_right(root, w);
			else
				rotate_left(root, w);
			w = left ? parent->rb_right : parent->rb_left;
			far = left ? w->rb_right : w->rb_left;
		}
		w->rb_black = parent->rb_black; /* far nephew red: rotate the parent */
		parent->rb_black = true;
		far->rb_black = true;
		if (left)
			rotate_left(root, parent);
		else
			rotate_right(root, parent);
		x = root->rb_node;
		break;
	}
	if (x)
		x->rb_black = true;
}

void ktree_rb_erase(struct rb_node *z, struct rb_root *root)
{
	struct rb_node *x, *parent, *y;
	bool lost_black;

	if (!z->rb_left || !z->rb_right) {
		x = z->rb_left ? z->rb_left : z->rb_right;
		parent = z->rb_parent;
		lost_black = z->rb_black;
		change_child(root, parent, z, x);
		if (x)
			x->rb_parent = parent;
	} else {
		/* Two children: the successor takes z's place and colour. */
		for (y = z->rb_right; y->rb_left; y = y->rb_left)
			;
		lost_black = y->rb_black;
		x = y->rb_right;
		if (y->rb_parent == z) {
			parent = y;
		} else {
			parent = y->rb_parent;
			parent->rb_left = x;
			if (x)
				x->rb_parent = parent;
			y->rb_right = z->rb_right;
			y->rb_right->rb_parent = y;
		}
		change_child(root, z->rb_parent, z, y);
		y->rb_parent = z->rb_parent;
		y->rb_left = z->rb_left;
		y->rb_left->rb_parent = y;
		y->rb_black = z->rb_black;
	}
	if (lost_black)
		erase_fixup(root, x, parent);
}

struct rb_node *ktree_rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	while (n && n->rb_left)
		n = n->rb_left;
	return n;
}

struct rb_node *ktree_rb_next(const struct rb_node *n)
{
	const struct rb_node *p;

	if (n->rb_right) {
		for (n = n->rb_right; n->rb_left; n = n->rb_left)
			;
		return (struct rb_node *)n;
	}
	while ((p = n->rb_parent) && n == p->rb_right)
		n = p;
	return (struct rb_node *)p;
}

struct rb_node *ktree_rb_prev(const struct rb_node *n)
{
	const struct rb_node *p;

	if (n->rb_left) {
		for (n = n->rb_left; n->rb_right; n = n->rb_right)
			;
		return (struct rb_node *)n;
	}
	while ((p = n->rb_parent) && n == p->rb_left)
		n = p;
	return (struct rb_node *)p;
}
