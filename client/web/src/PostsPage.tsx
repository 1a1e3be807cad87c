import { useEffect, useState } from 'react';
import type { ChatClient, Post } from '../../sdk/src';

/** Every post the service knows, newest first; Chat on everyone's posts but one's own. */
export function PostsPage({ client, me, onChat }: { client: ChatClient; me: string; onChat: (postId: string) => Promise<void> }) {
  const [posts, setPosts] = useState<Post[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = async (after: string | null) => {
    try {
      const page = await client.posts({ limit: 20, cursor: after });
      setPosts((old) => (after === null ? page.posts : [...old, ...page.posts]));
      setCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoaded(true);
    }
  };
  // The first page, once per client.
  useEffect(() => {
    void load(null);
  }, [client]);

  const chat = async (postId: string) => {
    try {
      await onChat(postId);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section aria-labelledby="posts-title" className="posts">
      <h1 id="posts-title">Posts</h1>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {loaded && posts.length === 0 && <p className="hint">No posts yet.</p>}
      <ul>
        {posts.map((post) => (
          <li key={post.postId}>
            <article aria-label={post.title} className="post">
              <h2>{post.title}</h2>
              <p className="owner">by {post.ownerId === me ? 'you' : post.ownerId}</p>
              {post.ownerId === me ? <span className="own">Your post</span> : <button onClick={() => void chat(post.postId)}>Chat</button>}
            </article>
          </li>
        ))}
      </ul>
      {cursor !== null && (
        <button type="button" className="more" onClick={() => void load(cursor)}>
          More posts
        </button>
      )}
    </section>
  );
}
