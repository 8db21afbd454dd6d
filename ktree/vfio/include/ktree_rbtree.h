/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/rbtree.h> for the tree's drivers/vfio/vfio_iommu_type1.c:
 * struct rb_node / rb_root, RB_ROOT, RB_EMPTY_ROOT, rb_entry, rb_link_node,
 * rb_insert_color, rb_erase, rb_first, rb_next, rb_prev — pinsim's own
 * red-black tree (ktree/vfio/ktree_rbtree.c), not the tree's lib/rbtree.c.
 *
 * Why not compile the tree's lib/rbtree.c: it needs
 * include/linux/rbtree_augmented.h, rbtree.h and rbtree_types.h, three more
 * files to fetch for ~120 lines of algorithm, and its parent-and-colour
 * packing into one word.  What matters to vfio is the shape of the tree,
 * because 6.12's exclusive-end comparisons in vfio_find_dma(),
 * vfio_find_dma_first_node() and vfio_link_dma() wrap at the top of the
 * IOVA space, where the answer depends on which nodes a descent visits.
 * So this tree makes the same decisions as lib/rbtree.c: a new node linked
 * red as a leaf; insert rebalancing by recolouring a red uncle and moving
 * up, else at most two rotations; erase replacing a node of two children
 * by its successor, which takes its colour, and rebalancing (sibling red:
 * rotate; both nephews black: recolour and move up; near nephew red: rotate
 * the sibling; far nephew red: rotate the parent) when a black node left.
 * The same sequence of insertions and erasures gives the same tree as the
 * kernel's, node for node (and as lib/vfio_iommu_type1.c's, which is the
 * same algorithm).  Global symbols are ktree_rb_* (tests/ktree/
 * check_symbols.sh).
 */
#ifndef KTREE_RBTREE_H
#define KTREE_RBTREE_H

#include <stdbool.h>
#include <stddef.h>

struct rb_node {
	struct rb_node *rb_parent;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
	bool rb_black;
};

struct rb_root {
	struct rb_node *rb_node;
};

#define RB_ROOT ((struct rb_root){ NULL })
#define RB_EMPTY_ROOT(root) ((root)->rb_node == NULL)
#define rb_entry(ptr, type, member) container_of(ptr, type, member)

static inline void rb_link_node(struct rb_node *node, struct rb_node *parent,
				struct rb_node **link)
{
	node->rb_parent = parent;
	node->rb_left = node->rb_right = NULL;
	node->rb_black = false;
	*link = node;
}

#define rb_insert_color ktree_rb_insert_color
#define rb_erase ktree_rb_erase
#define rb_first ktree_rb_first
#define rb_next ktree_rb_next
#define rb_prev ktree_rb_prev

void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

#endif /* KTREE_RBTREE_H */
